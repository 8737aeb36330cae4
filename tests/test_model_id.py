from __future__ import annotations

import pytest

from runcomfy_codegen._errors import ModelIdError
from runcomfy_codegen.model_id import check_model_id, module_name, url_path


@pytest.mark.parametrize(
    "model_id",
    ["bytedance/seedance-v1.5-pro/image-to-video", "minimax/Hailuo Video 01 Live", "a/b_c.d-e", "single"],
)
def test_accepts_real_model_ids(model_id: str) -> None:
    assert check_model_id(model_id) == model_id


@pytest.mark.parametrize(
    ("model_id", "reason"),
    [
        ("", "non-empty"),
        ("/a/b", "leading or trailing slash"),
        ("a/b/", "leading or trailing slash"),
        ("a//b", "empty segment"),
        ("a/../b", "'..'"),
        ("a/./b", "'.'"),
        (" a/b", "whitespace"),
        ("a/b ", "whitespace"),
        ("a\\b", "backslash"),
        ("a/b\nc", "control"),
        ("a/b\x00", "control"),
        ("a/ b", "segment"),
        ("a/b$c", "segment"),
        ("a/é", "segment"),
    ],
)
def test_refuses_malformed_model_ids(model_id: str, reason: str) -> None:
    with pytest.raises(ModelIdError, match=reason):
        check_model_id(model_id)


def test_module_rule() -> None:
    assert (
        module_name("bytedance/seedance-v1.5-pro/image-to-video")
        == "bytedance__seedance_v1_5_pro__image_to_video"
    )
    assert module_name("minimax/Hailuo Video 01 Live") == "minimax__hailuo_video_01_live"
    assert module_name("3d/model") == "m3d__model"


def test_url_path_percent_encodes_each_segment() -> None:
    assert url_path("minimax/Hailuo Video 01 Live") == "minimax/Hailuo%20Video%2001%20Live"
    assert (
        url_path("bytedance/seedance-v1.5-pro/image-to-video") == "bytedance/seedance-v1.5-pro/image-to-video"
    )
