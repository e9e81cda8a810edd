"""Characters: found after the storyboard, editable by hand, in every image prompt of the shots
that show them, sent as reference images to a provider that takes them (a fake OpenAI images
service counts them), and drawn the same by the offline painter in every shot."""
import json
import os
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
from PIL import Image

from fakes.helpers import make_studio
from fakes.image_edits import OpenAIImageEditsFake
from fakes.servers import tiny_png

SMALL = {"size": (144, 256), "fps": 12, "shots": 4, "seed": 7}
TOPIC = "A lighthouse keeper befriends a lost whale"


def test_the_storyboard_finds_the_characters_and_tags_the_shots(make_project):
    project = make_project(TOPIC, **{**SMALL, "shots": 6})
    project.run(["rewrite", "storyboard"])
    sheet = project.cast.frame()
    assert len(sheet) >= 1
    hero = sheet.iloc[0]
    assert "lighthouse keeper" in hero["description"] and hero["name"] in hero["description"]
    assert "coat" in hero["description"]  # what the painter will draw, said in words
    for shot in project.shots():
        names = json.loads(shot["characters"])
        if hero["name"] in shot["narration"]:
            assert hero["name"] in names
    assert hero["shots"][0] == 1


def test_chinese_story_characters(make_project):
    project = make_project("一个名叫小满的女孩在雪夜里寻找走失的小狐狸", language="zh", **SMALL)
    project.run(["rewrite", "storyboard"])
    rows = project.cast.rows()
    assert rows, project.story()
    assert any("小满" == r["name"] for r in rows) or rows[0]["description"].startswith("名叫")
    assert "外套" in rows[0]["description"] or "身体" in rows[0]["description"]


def test_hand_edits_are_kept_and_bad_edits_refused(make_project, tmp_path):
    from storynb import InvalidInput, NotFound

    project = make_project(TOPIC, **SMALL)
    project.run(["rewrite", "storyboard"])
    hero = project.cast.rows()[0]["name"]
    project.cast.set(hero, description="a tall keeper in a yellow oilskin coat")
    project.rollback("storyboard")
    project.run(["storyboard"])
    assert project.cast.get(hero)["description"] == "a tall keeper in a yellow oilskin coat"
    with pytest.raises(InvalidInput, match="needs a description"):
        project.cast.set("Wren")
    with pytest.raises(InvalidInput, match="description is empty"):
        project.cast.set(hero, description="  ")
    with pytest.raises(InvalidInput, match="unknown character"):
        project.cast.tag(1, ["Nobody"])
    with pytest.raises(NotFound, match="no character 'Nobody'"):
        project.cast.add_reference("Nobody", tmp_path / "x.png")
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    with pytest.raises(InvalidInput, match="not an image"):
        project.cast.add_reference(hero, text)
    project.cast.set("Wren", description="a small girl in a blue raincoat")
    project.cast.tag(2, [hero, "Wren"])
    project.cast.set("Wren", rename="Robin")
    assert json.loads(project.shot(2)["characters"]) == [hero, "Robin"]
    project.cast.delete("Robin")
    assert json.loads(project.shot(2)["characters"]) == [hero]


def test_every_shot_naming_a_character_sends_its_reference_images(tmp_path, monkeypatch):
    studio = make_studio(tmp_path, monkeypatch)
    with OpenAIImageEditsFake(key="sk-img-key-1234567890") as server:
        studio.providers.add("img", "text2image", "openai_images", url=server.url + "/v1",
                             key="sk-img-key-1234567890", model="gpt-image-1",
                             price={"per_call": 0.04})
        project = studio.create_project(TOPIC, providers={"text2image": "img"}, **SMALL)
        project.run(["rewrite", "storyboard"])
        hero = project.cast.rows()[0]["name"]
        refs = {}
        for name, colours in ((hero, [(200, 40, 40), (180, 30, 30)]), ("Wren", [(40, 40, 200)])):
            if name != hero:
                project.cast.set(name, description="a small girl in a blue raincoat")
            for i, colour in enumerate(colours):
                path = tmp_path / f"{name}-{i}.png"
                path.write_bytes(tiny_png(color=colour))
                project.cast.add_reference(name, path)
                assert path.is_file()  # the user's file is copied, not taken
            refs[name] = [__import__("hashlib").sha256(
                (tmp_path / f"{name}-{i}.png").read_bytes()).hexdigest() for i in range(len(colours))]
        project.cast.set("Nell", description="an old fisherman with a white beard")  # no images
        tagging = {1: [hero], 2: [], 3: [hero, "Wren"], 4: ["Nell"]}
        for seq, names in tagging.items():
            project.cast.tag(seq, names)
        report = project.run(["images"])
        assert report.status == "done", report.summary()

        expected = Counter()
        for _seq, names in tagging.items():
            hashes = tuple(h for n in names for h in refs.get(n, []))
            if hashes:
                expected[hashes] += 1
        sent = Counter(tuple(e["images"]) for e in server.edits)
        assert sent == expected  # every shot naming a character with references: exactly those
        assert all(set(e["field_names"]) == {"image[]"} for e in server.edits)
        assert all(e["fields"]["model"] == "gpt-image-1" for e in server.edits)
        generations = [h.json for h in server.hits("images")]
        assert len(generations) == 2  # shot 2 (nobody) and shot 4 (Nell has no images)
        nell = next(g for g in generations if "white beard" in g["prompt"])
        assert "an old fisherman with a white beard" in nell["prompt"]
        hero_description = project.cast.get(hero)["description"]
        for edit in server.edits:
            assert hero_description in edit["prompt"]
        # the same run again sends nothing; a new reference redoes only the shots showing her
        before = len(server.edits)
        assert project.run(["images"]).status == "done"
        assert len(server.edits) == before and len(server.hits("images")) == 2
        extra = tmp_path / "wren-2.png"
        extra.write_bytes(tiny_png(color=(10, 200, 10)))
        project.cast.add_reference("Wren", extra)
        assert project.run(["images"]).status == "done"
        assert len(server.edits) == before + 1 and len(server.edits[-1]["images"]) == 4


def _figure(project, seq):
    """(the painted shot, the same shot painted without its characters) as arrays."""
    from storynb.characters import for_image, painter_prompt
    from storynb.providers.local import paint

    shot = project.shot(seq)
    image = project.chosen_image(seq)
    params = json.loads(image["params"])
    _, _, looks, _ = for_image(project, shot, "")
    assert looks, f"shot {seq} shows no character"
    caption = params["caption"] if os.environ.get("STORYNB_DEBUG_IMAGE_TEXT") == "1" else ""
    base = paint(painter_prompt(image["prompt"], looks), params["width"], params["height"],
                 params["seed"], caption)  # as the Painter paints it (no text unless debugging)
    drawn = np.asarray(Image.open(project.studio.media.path(image["media"])).convert("RGB"))
    return drawn, np.asarray(base.convert("RGB")), looks


def test_the_offline_painter_draws_a_character_the_same_in_every_shot(make_project):
    project = make_project(TOPIC, **{**SMALL, "size": (288, 512), "shots": 6})
    assert project.run(["rewrite", "storyboard", "images"]).status == "done"
    hero = project.cast.rows()[0]["name"]
    seqs = [s["seq"] for s in project.shots() if json.loads(s["characters"]) == [hero]]
    assert len(seqs) >= 2
    counts, colours = [], []
    for seq in seqs:
        drawn, base, looks = _figure(project, seq)
        mask = np.any(drawn != base, axis=2)
        figure = drawn[mask]
        counts.append(int(mask.sum()))
        colours.append(Counter(map(tuple, figure)).most_common(6))
    # the same number of pixels (same size and shape) and the same colours, in every shot
    assert max(counts) - min(counts) <= 0.03 * max(counts), counts
    main = [{c for c, _ in top[:4]} for top in colours]
    assert all(m == main[0] for m in main), colours
    assert tuple(looks[0]["coat"]) in main[0] and tuple(looks[0]["accent"]) in main[0]


def test_characters_from_the_cli(tmp_path):
    studio = tmp_path / "studio.db"
    cli = [sys.executable, "-m", "storynb.cli", "--studio", str(studio)]
    run = subprocess.run(cli + ["run", TOPIC, "--size", "144x256", "--fps", "12", "--shots", "4",
                                "--seed", "7", "--stage", "rewrite", "--stage", "storyboard"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    listed = subprocess.run(cli + ["characters", "1"], capture_output=True, text=True)
    assert listed.returncode == 0 and "lighthouse keeper" in listed.stdout
    picture = tmp_path / "wren.png"
    picture.write_bytes(tiny_png())
    added = subprocess.run(cli + ["character", "1", "Wren", "--description",
                                  "a small girl in a blue raincoat", "--reference", str(picture)],
                           capture_output=True, text=True)
    assert added.returncode == 0, added.stderr
    assert "references: 1" in added.stdout and "locked" in added.stdout
    tagged = subprocess.run(cli + ["cast", "1", "2", "Wren"], capture_output=True, text=True)
    assert tagged.returncode == 0 and "shot 2: Wren" in tagged.stdout
    bad = subprocess.run(cli + ["cast", "1", "2", "Nobody"], capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown character" in bad.stderr
    missing = subprocess.run(cli + ["character", "1", "Ghost"], capture_output=True, text=True)
    assert missing.returncode == 2 and "needs a description" in missing.stderr


def test_reference_images_survive_gc_and_travel_in_a_bundle(make_project, tmp_path):
    project = make_project(TOPIC, **SMALL)
    project.run(["rewrite", "storyboard"])
    hero = project.cast.rows()[0]["name"]
    picture = tmp_path / "hero.png"
    picture.write_bytes(tiny_png(color=(1, 2, 3)))
    name = project.cast.add_reference(hero, picture)
    project.cast.tag(2, [])
    project.studio.gc(grace_s=0)
    assert project.studio.media.exists(name)
    bundle = project.export_bundle(tmp_path / "p.zip")
    from storynb import Studio

    other = Studio(tmp_path / "other" / "studio.db")
    copy = other.import_bundle(bundle)
    assert [r["name"] for r in copy.cast.rows()] == [r["name"] for r in project.cast.rows()]
    assert copy.cast.references(hero)[0].read_bytes() == picture.read_bytes()
    assert json.loads(copy.shot(2)["characters"]) == []
