#!/usr/bin/env python3
"""Write N synthetic RunComfy-style model schema folders, deterministically, for benchmarks at scale.

usage: make_schemas.py OUT_DIR [-n 1000] [--seed 0]

OUT_DIR/<owner>/<family>/<task>/input.json and output.json, shaped like real RunComfy model pages:
prompts, media URL fields with `validations` rules, string and integer enums, booleans, bounded numbers,
arrays of URLs, and the wrapped `{"output": {...}}` output schema.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

OWNERS = [
    "bytedance",
    "kling",
    "wan-ai",
    "blackforestlabs",
    "minimax",
    "google",
    "alibaba",
    "tencent",
    "luma",
    "pixverse",
    "vidu",
    "runway",
    "ideogram",
    "recraft",
    "stability",
    "openai",
]
TASKS = [
    "text-to-video",
    "image-to-video",
    "text-to-image",
    "edit",
    "upscale",
    "lipsync",
    "reference-to-video",
    "start-end-to-video",
    "text-to-speech",
    "remove-background",
]
IMAGE_RULES = [
    ("width_pixels<", 6000, "Width must not exceed 6000 pixels."),
    ("height_pixels<", 6000, "Height must not exceed 6000 pixels."),
    ("width_pixels>", 300, "Width must be at least 300 pixels."),
    ("height_pixels>", 300, "Height must be at least 300 pixels."),
    ("width/height>", 0.4, "Aspect ratio must be between 0.4 and 2.5."),
    ("width/height<", 2.5, "Aspect ratio must be between 0.4 and 2.5."),
    ("file_size_mb<", 30, "File size must be less than 30 MB."),
]
WORDS = [
    "Prompt",
    "Négatif",
    "Seed",
    "Durée",
    "Résolution",
    "Style",
    "Guidance",
    "Steps",
    "Strength",
    "Motion",
    "Camera",
    "Audio",
    "Image de départ",
    "Image de fin",
    "Référence",
    "Masque",
]


def _rules(rng: random.Random) -> list[dict]:
    picked = [r for r in IMAGE_RULES if rng.random() < 0.7]
    return [{"validation_rule": r, "validation_value": v, "validation_error": e} for r, v, e in picked]


def _field(rng: random.Random, i: int) -> tuple[str, dict]:
    kind = rng.choice(["enum_str", "enum_int", "bool", "number", "int", "url", "urls", "text"])
    title = rng.choice(WORDS)
    base = {"title": title, "description": rng.choice(["", f'{title} — paramètre {i}. "quoted" \\ back'])}
    if kind == "enum_str":
        values = rng.sample(
            [
                "16:9",
                "4:3",
                "1:1",
                "3:4",
                "9:16",
                "21:9",
                "adaptive",
                "480p",
                "720p",
                "1080p",
                "auto",
                "low",
                "medium",
                "high",
            ],
            k=rng.randint(2, 7),
        )
        return f"option_{i}", {**base, "type": "string", "enum": values, "default": values[0]}
    if kind == "enum_int":
        values = list(range(rng.randint(2, 5), rng.randint(6, 16)))
        return f"duration_{i}", {**base, "type": "integer", "enum": values, "default": values[0]}
    if kind == "bool":
        return f"flag_{i}", {**base, "type": "boolean", "default": rng.random() < 0.5}
    if kind == "number":
        lo = rng.choice([0, 0.0, 1, 0.5])
        return f"scale_{i}", {
            **base,
            "type": "number",
            "minimum": lo,
            "maximum": lo + rng.choice([1, 10, 20]),
            "default": lo,
        }
    if kind == "int":
        return f"seed_{i}", {**base, "type": "integer", "minimum": 0, "maximum": 2**31 - 1, "default": 42}
    if kind == "url":
        return f"image_url_{i}", {
            **base,
            "type": "string",
            "validations": _rules(rng),
            "default": f"https://example.invalid/media/{i}.png",
        }
    if kind == "urls":
        return f"image_urls_{i}", {
            **base,
            "type": "array",
            "items": {"type": "string"},
            "minItems": 1,
            "maxItems": rng.randint(2, 14),
        }
    return f"text_{i}", {**base, "type": "string", "maxLength": rng.choice([500, 1000, 2500])}


def make(rng: random.Random) -> tuple[dict, dict]:
    props = {"prompt": {"title": "Prompt", "description": "Le prompt.", "type": "string", "default": "a cat"}}
    required = ["prompt"]
    for i in range(rng.randint(3, 14)):
        name, spec = _field(rng, i)
        props[name] = spec
        if rng.random() < 0.25:
            required.append(name)
    inp = {"type": "object", "title": "modelApiDoc_navInputSchema", "required": required, "properties": props}
    uri = {"type": "string", "format": "uri"}
    out = {
        "output": {
            "type": "object",
            "properties": {
                "image": {**uri, "description": "modelApiDoc_outDescImage"},
                "video": {**uri, "description": "modelApiDoc_outDescVideo"},
                "images": {"type": "array", "description": "modelApiDoc_outDescImages", "items": uri},
                "videos": {"type": "array", "description": "modelApiDoc_outDescVideos", "items": uri},
            },
        }
    }
    return inp, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    seen: set[str] = set()
    while len(seen) < args.n:
        model_id = (
            f"{rng.choice(OWNERS)}/{rng.choice(['seed', 'flux', 'kling', 'wan'])}-"
            f"v{rng.randint(1, 5)}.{rng.randint(0, 9)}-{rng.choice(['pro', 'lite', 'turbo', 'std'])}"
            f"{rng.randint(0, 99)}/{rng.choice(TASKS)}"
        )
        if model_id in seen:
            continue
        seen.add(model_id)
        inp, out = make(rng)
        folder = args.out / model_id
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "input.json").write_text(
            json.dumps(inp, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
        (folder / "output.json").write_text(
            json.dumps(out, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
    print(f"wrote {len(seen)} models under {args.out}")


if __name__ == "__main__":
    main()
