"""Messages speak the interface in use: errors carry their remedies as hints, which the library says
with parameters and the CLI with flags, environment variables and commands. Unknown input keys are
warned about with the closest known name, and refused where asked."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest

import runcomfy_models
from runcomfy_codegen.cli_common import say
from runcomfy_codegen.mock import MockServer
from runcomfy_models import Hint
from tests.conftest import SEED_ID

seedance = runcomfy_models.get(SEED_ID)


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServer]:
    with MockServer(queue_seconds=30, run_seconds=1) as server:
        yield server


def image(server: MockServer) -> str:
    return f"{server.base_url}/media/x.png"


def test_a_probe_error_says_check_media_false_in_python_and_the_flag_in_the_cli(mock: MockServer) -> None:
    request = seedance.Input(prompt="x", first_frame_image_url=f"{mock.base_url}/media/x.gif")
    with (
        runcomfy_models.Client(base_url=mock.base_url, token=mock.token) as client,
        pytest.raises(runcomfy_models.MediaProbeError) as info,
    ):
        client.submit(request)
    assert [h.kind for h in info.value.hints] == ["skip_media_check"]
    assert "check_media=False" in str(info.value)
    assert "--no-media-check" in say(info.value) and "check_media=False" not in say(info.value)


def test_a_missing_token_names_the_parameter_or_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNCOMFY_API_TOKEN", raising=False)
    with pytest.raises(runcomfy_models.ConfigurationError) as info:
        runcomfy_models.Client(base_url="http://127.0.0.1:9")
    assert "token=" in str(info.value)
    assert "RUNCOMFY_API_TOKEN" in say(info.value) and "token=" not in say(info.value)


def test_a_timeout_says_how_to_resume_in_each_interface(mock: MockServer) -> None:
    with runcomfy_models.Client(base_url=mock.base_url, token=mock.token) as client:
        job = client.submit(seedance.Input(prompt="x", first_frame_image_url=image(mock)))
        with pytest.raises(runcomfy_models.JobTimeoutError) as info:
            client.wait(job, timeout=0.05, poll_interval=0.02)
    assert isinstance(info.value, runcomfy_models.APITimeoutError)  # still caught as before
    rid = job.request_id
    assert f"client.wait({rid!r}, model_id={SEED_ID!r})" in str(info.value)
    assert f"runcomfy-codegen wait {rid} --model {SEED_ID}" in say(info.value)
    assert "client.wait" not in say(info.value)


def test_hints_are_data() -> None:
    hint = Hint.of("resume", request_id="r1", model_id=None)
    assert hint.param("request_id") == "r1" and hint.param("model_id") is None
    assert hint.library_text() == "resume with client.wait('r1', model_id=None)"
    assert (
        say(runcomfy_models.JobTimeoutError("late", hints=[hint]))
        == "late; resume with: runcomfy-codegen wait r1"
    )


# Unknown input keys --------------------------------------------------------------------------------


def test_input_with_a_misspelt_key_warns_and_keeps_it() -> None:
    with pytest.warns(
        runcomfy_models.UnknownInputWarning, match=r"'durration' \(did you mean 'duration'\?\)"
    ) as w:
        request = seedance.Input(prompt="x", first_frame_image_url="u", durration=7)
    assert w[0].filename == __file__  # points at the caller's line
    assert request.to_payload()["durration"] == 7  # still sent: JSON Schema allows it
    assert runcomfy_models.unknown_inputs(request) == (runcomfy_models.UnknownInput("durration", "duration"),)


def test_a_key_with_no_close_name_is_named_without_a_guess() -> None:
    with pytest.warns(runcomfy_models.UnknownInputWarning) as w:
        seedance.Input(prompt="x", first_frame_image_url="u", zzz=1)
    assert "'zzz'" in str(w[0].message) and "did you mean" not in str(w[0].message)


def test_known_names_and_model_validate_are_silent() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        seedance.Input(prompt="x", first_frame_image_url="u", duration=6)
        model = seedance.Input.model_validate({"prompt": "x", "first_frame_image_url": "u", "durration": 7})
    assert runcomfy_models.unknown_inputs(model)[0].suggestion == "duration"


def test_a_dict_input_warns_at_submit_and_strict_inputs_refuses_before_sending(mock: MockServer) -> None:
    payload = {"prompt": "x", "first_frame_image_url": image(mock), "durration": 7}
    with (
        runcomfy_models.Client(base_url=mock.base_url, token=mock.token) as client,
        pytest.warns(runcomfy_models.UnknownInputWarning, match="did you mean 'duration'") as w,
    ):
        client.submit((SEED_ID, payload), check_media=False)
    assert w[0].filename == __file__  # points at the caller's submit
    before = len(mock.jobs)
    model = seedance.Input.model_validate(payload)
    with runcomfy_models.Client(base_url=mock.base_url, token=mock.token, strict_inputs=True) as strict:
        for given in (model, (SEED_ID, payload)):
            with pytest.raises(runcomfy_models.UnknownInputError) as info:
                strict.submit(given)
            assert isinstance(info.value, ValueError)
            assert info.value.unknown == (runcomfy_models.UnknownInput("durration", "duration"),)
            assert "nothing was sent" in str(info.value)
            assert "--strict" in say(info.value)
    assert len(mock.jobs) == before


async def _async_strict(mock: MockServer) -> None:
    async with runcomfy_models.AsyncClient(
        base_url=mock.base_url, token=mock.token, strict_inputs=True
    ) as client:
        with pytest.raises(runcomfy_models.UnknownInputError):
            await client.submit((SEED_ID, {"prompt": "x", "first_frame_image_url": "u", "durration": 7}))


def test_async_client_strict_inputs(mock: MockServer) -> None:
    import asyncio

    asyncio.run(_async_strict(mock))
