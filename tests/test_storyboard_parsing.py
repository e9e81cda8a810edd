import pytest

from storynb.stages.camera import parse_camera
from storynb.stages.storyboard import parse_storyboard

GOOD_SHOT = '{"scene": "A harbour at dusk", "narration": "The boats came home.", "image_prompt": "harbour, dusk", "duration_s": 3.5}'


def test_clean_json_needs_no_repair():
    shots, repairs = parse_storyboard('{"shots": [%s]}' % GOOD_SHOT, "en")
    assert repairs == []
    assert shots[0]["scene"] == "A harbour at dusk" and shots[0]["duration_s"] == 3.5


def test_fences_prose_and_trailing_commas_are_repaired():
    other = GOOD_SHOT.replace("The boats came home.", "The lamps were lit.")
    answer = 'Sure! Here is the storyboard:\n```json\n{"shots": [%s, %s,],}\n```\nEnjoy.' % (GOOD_SHOT, other)
    shots, repairs = parse_storyboard(answer, "en")
    assert [s["narration"] for s in shots] == ["The boats came home.", "The lamps were lit."]
    assert "removed a code fence" in repairs and any("repaired broken JSON" in r for r in repairs)


def test_missing_fields_are_filled_where_safe():
    shots, repairs = parse_storyboard('[{"旁白": "月亮升起来了，村子很安静。"}]', "zh")
    assert shots[0]["narration"] == "月亮升起来了，村子很安静。"
    assert shots[0]["scene"] and shots[0]["image_prompt"]
    assert shots[0]["duration_s"] >= 2 and shots[0]["duration_s"] * 2 == int(shots[0]["duration_s"] * 2)
    assert any("duration" in r for r in repairs)


def test_a_shot_without_narration_is_rejected_with_a_quote():
    with pytest.raises(ValueError, match=r"shot 2 is unusable.*narration.*A dark forest"):
        parse_storyboard('{"shots": [%s, {"scene": "A dark forest"}]}' % GOOD_SHOT, "en")


def test_a_missing_comma_is_repaired_and_noted():
    shots, repairs = parse_storyboard('{"shots": [{"scene": "x" "narration": "y"}]}', "en")
    assert shots[0]["scene"] == "x" and shots[0]["narration"] == "y"
    assert any("repaired broken JSON" in r for r in repairs)


def test_no_json_at_all():
    with pytest.raises(ValueError, match="no JSON"):
        parse_storyboard("I cannot help with that.", "en")


def test_truncated_json_is_rejected():
    with pytest.raises(ValueError, match="cut off.*max_tokens"):
        parse_storyboard('{"shots": [%s, {"scene": "cut off' % GOOD_SHOT, "en")


def test_camera_answer_maps_shots_and_fills_gaps():
    chosen, repairs = parse_camera('{"shots": [{"sequence": 1, "movement": "pan_left", "params": {"intensity": 0.2}}]}', [1, 2])
    assert chosen[1][0] == "pan_left" and chosen[1][1]["intensity"] == 0.2
    assert chosen[2][0] == "static" and repairs


def test_camera_answer_with_unknown_movement_names_it():
    with pytest.raises(ValueError, match="barrel_roll"):
        parse_camera('{"shots": [{"sequence": 1, "movement": "barrel_roll"}]}', [1])
