from dg_lsp import options
from dg_lsp.options import Settings


def test_defaults_and_section_unwrapping():
    parsed = options.parse({"dgLsp": {"model": "random:tiny", "debounceMs": 10, "candidates": 2}})
    assert parsed.problems == []
    assert parsed.settings.model == "random:tiny" and parsed.settings.debounce_ms == 10
    assert parsed.settings.candidates == 2 and parsed.settings.hole_marker == "???"
    assert options.parse({"holeMarker": "<fill>"}).settings.hole_marker == "<fill>"


def test_bad_values_fall_back_to_default_with_a_message():
    parsed = options.parse({"debounceMs": -5, "candidates": "three", "completionItems": "yes",
                            "device": "tpu", "enabledLanguages": "python", "unknownKey": 1},
                           base=Settings(debounce_ms=10))
    s = parsed.settings
    assert (s.debounce_ms, s.candidates, s.completion_items, s.device) == (60, 3, False, None)
    assert s.enabled_languages == ("*",)
    assert len(parsed.problems) == 5
    assert any("debounceMs" in p and "-5" in p for p in parsed.problems)


def test_not_an_object():
    parsed = options.parse(["model"])
    assert parsed.settings == Settings() and parsed.problems


def test_cli_beats_client_and_wire_names():
    s = options.with_cli(options.parse({"model": "embedded", "device": "cpu"}).settings, "random:tiny", None)
    assert s.model == "random:tiny" and s.device == "cpu"
    wire = options.to_wire(s)
    assert wire["maxContextTokens"] == 640 and wire["trustRemoteCode"] is False
    assert set(wire) == set(options.CHECKS)


def test_language_filter():
    s = options.parse({"enabledLanguages": ["python", "rust"]}).settings
    assert s.language_enabled("python") and not s.language_enabled("go")
    assert Settings().language_enabled("anything")


def test_model_options_are_checked_merged_with_the_cli_and_sent_as_keywords():
    s = options.parse({"modelOptions": {"dtype": "float32", "eom_ids": [1, 2]}}).settings
    assert options.engine_options(s) == {"dtype": "float32", "eom_ids": [1, 2]}
    merged = options.with_cli(s, None, None, {"dtype": "bfloat16", "compile": True})
    assert options.engine_options(merged) == {"compile": True, "dtype": "bfloat16", "eom_ids": [1, 2]}
    assert options.to_wire(merged)["modelOptions"]["dtype"] == "bfloat16"
    for bad in (["dtype"], {"dtype": {"nested": 1}}, {"": 1}):
        parsed = options.parse({"modelOptions": bad})
        assert parsed.settings.model_options == () and "modelOptions" in parsed.problems[0]
