"""A bundle is untrusted input: crafted rows, paths, zip bombs and forged zips are refused with a
clear message, nothing is left half-imported, and no file from outside the media store ever
leaves through a bundle."""
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from storynb import InvalidInput, Studio
from storynb.intake import ZipLimits
from storynb.media import MediaStore
from tests.fakes.zipbomb import MiB, deflated_zeros, write_zip

SMALL = {"size": (144, 256), "fps": 12, "shots": 4, "seed": 7}


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A finished project in another studio, and its bundle."""
    where = tmp_path_factory.mktemp("source")
    studio = Studio(where / "studio.db")
    project = studio.create_project("A lighthouse keeper befriends a lost whale", name="Whale", **SMALL)
    assert project.run().status == "done"
    return project, project.export_bundle(where / "whale.zip")


@pytest.fixture
def target(tmp_path):
    return Studio(tmp_path / "target" / "studio.db")


def crafted(bundle: Path, out: Path, edit=None, *, drop=(), add=()) -> Path:
    """A copy of a bundle with project.json edited in place, members dropped or added."""
    with zipfile.ZipFile(bundle) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            if item.filename in drop:
                continue
            data = src.read(item)
            if item.filename == "project.json" and edit:
                document = json.loads(data)
                edit(document)
                data = json.dumps(document).encode()
            dst.writestr(item, data)
        for name, data in add:
            dst.writestr(name, data)
    return out


def stored(studio) -> set:
    return {p.relative_to(studio.media.root) for p in studio.media.root.rglob("*") if p.is_file()}


def run_cli(db, *args, env=None):
    # Peak memory from VmHWM (this process's own address space): getrusage's ru_maxrss carries
    # the parent's peak over fork and exec, so it reported the size of the pytest process.
    code = ("import sys\n"
            "from storynb.cli import main\n"
            "rc = main(sys.argv[1:])\n"
            "hwm = next(l for l in open('/proc/self/status') if l.startswith('VmHWM:'))\n"
            "print('MAXRSS_KB', hwm.split()[1])\n"
            "sys.exit(rc)\n")
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code, "--studio", str(db), *map(str, args)],
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})}, cwd=Path(__file__).parent.parent)
    rss = int(done.stdout.rsplit("MAXRSS_KB", 1)[1].split()[0]) * 1024
    return done, rss, time.monotonic() - started


def key_file() -> str:
    return os.environ.get("STORYNB_KEY_FILE") or str(Path.home() / ".config/storynb/secret.key")


@pytest.mark.parametrize("evil", ["/etc/hostname", "../../x", "KEYFILE", "ab/../../etc/hostname",
                                  "0" * 64 + ".png/../../../etc/hostname", "0" * 64 + ".sh",
                                  "0" * 63 + "G.png", "0" * 64 + ".PNG"])
def test_rows_naming_files_outside_the_store_are_refused(source, target, tmp_path, evil):
    project, bundle = source
    evil = key_file() if evil == "KEYFILE" else evil

    def edit(document):
        document["tables"]["images"][0]["media"] = evil
    bad = crafted(bundle, tmp_path / "bad.zip", edit)
    before = stored(target)
    with pytest.raises(InvalidInput, match="not a stored media name.*tampered") as caught:
        target.import_bundle(bad)
    assert "\n" not in str(caught.value)
    assert len(target.projects()) == 0 and stored(target) == before
    assert target.db["prompt_sets"].count == Studio(tmp_path / "fresh.db").db["prompt_sets"].count


def test_the_cli_refuses_with_one_line_and_exit_2(source, tmp_path):
    _, bundle = source

    def edit(document):
        document["tables"]["clips"][0]["media"] = "/etc/hostname"
    bad = crafted(bundle, tmp_path / "bad.zip", edit)
    db = tmp_path / "cli" / "studio.db"
    done, _, _ = run_cli(db, "import", bad)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert lines[0].startswith("storynb: bad.zip: clips row") and "/etc/hostname" in lines[0]
    assert Studio(db).projects().empty


def test_no_file_from_outside_the_store_leaves_through_a_bundle(source, target, tmp_path):
    """Even if a bad name got into the studio some other way, bundling refuses it."""
    project, bundle = source
    copy = target.import_bundle(bundle)
    image = next(target.db["images"].rows_where("project_id = ? and shot_id is not null", [copy.id]))
    target.db["images"].update(image["id"], {"media": "/etc/hostname"})
    with pytest.raises(InvalidInput, match="not a stored media name"):
        target.media.path("/etc/hostname")
    assert not target.media.exists("/etc/hostname")
    out = tmp_path / "again.zip"
    with pytest.raises(InvalidInput, match="naming media '/etc/hostname'.*no bundle was written"):
        copy.export_bundle(out)
    assert not out.exists() and not list(out.parent.glob(".again.zip*"))
    # gc and disk usage still work around the bad row
    assert target.disk_usage().bytes.sum() > 0
    target.gc()

    # a stored name that is a link to a file outside the store is not copied either
    target.db["images"].update(image["id"], {"media": image["media"]})
    link = target.media.path(image["media"])
    link.unlink()
    secret = tmp_path / "secret.txt"
    secret.write_text("do not leak")
    link.symlink_to(secret)
    with pytest.raises(InvalidInput, match="not a regular file in the media store"):
        copy.export_bundle(out)
    assert not out.exists()


def test_a_normal_bundle_imports_and_runs_on_with_no_calls(source, target, tmp_path):
    project, bundle = source
    with zipfile.ZipFile(bundle) as zf:
        document = json.loads(zf.read("project.json"))
    assert all(r["path"] is None and r["srt_path"] is None for r in document["tables"]["exports"])
    copy = target.import_bundle(bundle)
    calls = len(copy.calls())
    report = copy.run()
    assert report.status == "done" and [r.status for r in report.stages] == ["skipped"] * 6
    assert len(copy.calls()) == calls
    assert Path(copy.video_path()).is_file()
    assert list(target.media.tmp.iterdir()) == []
    # the imported call log is history: no run here adopts an answer by its job key
    keys = [r["job_key"] for r in target.db["calls"].rows_where("project_id = ?", [copy.id])]
    assert keys and all(k is None or k.startswith("imported:") for k in keys)


def members_of(bundle: Path) -> list:
    with zipfile.ZipFile(bundle) as zf:
        return [(i.filename, zf.read(i), zipfile.ZIP_STORED, i.CRC, i.file_size) for i in zf.infolist()]


def test_honest_zip_bomb_is_refused_before_writing_with_little_memory(source, target, tmp_path):
    """A real bundle's project.json plus 6 GB of zeros in 6 MB (real deflate data, true sizes):
    refused from the central directory, in a CLI process whose peak memory is measured."""
    data, crc = deflated_zeros(2040)
    document = next(m for m in members_of(source[1]) if m[0] == "project.json")
    bomb = write_zip(tmp_path / "bomb.zip", [document] + [
        (f"media/{'%064x' % i}.mp4", data, zipfile.ZIP_DEFLATED, crc, 2040 * MiB) for i in range(3)])
    assert bomb.stat().st_size < 10 * MiB
    before = stored(target)
    done, rss, seconds = run_cli(target.path, "import", bomb)
    print(f"honest bomb: refused in {seconds:.2f}s, peak RSS {rss / MiB:.0f} MB")
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "zip bomb" in done.stderr and "refused before anything was written" in done.stderr
    assert rss < 500 * MiB
    assert stored(target) == before and target.projects().empty


def test_lying_zip_is_stopped_while_streaming(source, target, tmp_path):
    """Directory entries that say 1 KB (or a media file's true size) over deflate data that
    expands to 2 GB, so size and ratio look harmless: reading stops at the declared size."""
    data, crc = deflated_zeros(2048)
    real = members_of(source[1])
    name, _, _, _, size = next(m for m in real if m[0].endswith(".mp4"))
    cases = {"project.json": [("project.json", data, zipfile.ZIP_DEFLATED, crc, 1024)],
             "a media file": [m for m in real if m[0] != name]
                             + [(name, data, zipfile.ZIP_DEFLATED, crc, size)]}
    for what, members in cases.items():
        bomb = write_zip(tmp_path / "liar.zip", members)
        before = stored(target)
        done, rss, seconds = run_cli(target.path, "import", bomb)
        print(f"lying bomb ({what}): refused in {seconds:.2f}s, peak RSS {rss / MiB:.0f} MB")
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert "damaged or forged" in done.stderr
        assert rss < 500 * MiB
        assert stored(target) == before and target.projects().empty
        assert list(target.media.tmp.iterdir()) == []


def test_caps_on_members_and_size(source, target, tmp_path):
    _, bundle = source
    count = len(zipfile.ZipFile(bundle).infolist())
    with pytest.raises(InvalidInput, match=f"holds {count} files.*; at most 3 are accepted"):
        target.import_bundle(bundle, limits=ZipLimits(max_members=3))
    with pytest.raises(InvalidInput, match="expands to more than 1000 bytes; refused before"):
        target.import_bundle(bundle, limits=ZipLimits(max_total_bytes=1000))
    assert target.projects().empty and stored(target) == stored(Studio(tmp_path / "x" / "s.db"))
    done, _, _ = run_cli(target.path, "import", bundle, "--max-gb", "0.000001")
    assert done.returncode == 2 and "expands to more than" in done.stderr
    # many tiny members: counted from the end record, before zipfile reads the directory
    many = write_zip(tmp_path / "many.zip", [(f"m{i}", b"", 0, 0, 0) for i in range(20_001)])
    with pytest.raises(InvalidInput, match="holds 20001 files in a 1028942 bytes directory; at most 20000"):
        target.import_bundle(many)


def _edit(path, value):
    def edit(document):
        where = document
        for key in path[:-1]:
            where = where[key]
        where[path[-1]] = value
    return edit


@pytest.mark.parametrize("path, value, message", [
    (("tables", "providers"), [{"name": "evil"}], r"table\(s\) \['providers'\] this storynb does not import"),
    (("tables", "images", 0, "evil"), 1, "column 'evil' that table images does not have"),
    (("tables", "shots", 0, "seq"), "first", "seq must be a whole number, not str"),
    (("tables", "shots", 0, "id"), None, "missing or repeated id"),
    (("tables", "stages", 0, "stage"), "rm -rf", "stage 'rm -rf' is unknown"),
    (("project", "aspect"), "1:9", "aspect '1:9' is not one of"),
    (("project", "providers"), "[1, 2]", "providers is not a JSON object"),
    (("project", "name"), "", "no name"),
    (("version",), 2, "format version 2; this storynb reads version 1"),
    (("format",), "zip", "not a storynb project bundle"),
    (("evil",), 1, r"unknown part\(s\)"),
    (("prompt_templates", 0, "stage"), "../x", "needs a stage"),
])
def test_rows_are_checked(source, target, tmp_path, path, value, message):
    _, bundle = source
    bad = crafted(bundle, tmp_path / "bad.zip", _edit(path, value))
    with pytest.raises(InvalidInput, match=message):
        target.import_bundle(bad)
    assert target.projects().empty and stored(target) == stored(Studio(tmp_path / "x" / "s.db"))


def test_local_paths_are_dropped(source, target, tmp_path):
    _, bundle = source

    def edit(document):
        document["project"]["font"] = key_file()
        for row in document["tables"]["exports"]:
            row.update(path="/etc/hostname", srt_path="/etc/passwd", published="x")
    copy = target.import_bundle(crafted(bundle, tmp_path / "paths.zip", edit))
    assert copy.row["font"] == ""
    rows = list(target.db["exports"].rows_where("project_id = ?", [copy.id]))
    assert rows and all(r["path"] is None and r["srt_path"] is None for r in rows)


def test_media_must_be_carried_or_present_and_be_what_its_name_says(source, target, tmp_path):
    project, bundle = source
    with zipfile.ZipFile(bundle) as zf:
        media = [n for n in zf.namelist() if n.endswith(".png")]
    with pytest.raises(InvalidInput, match="does not carry and this studio does not have"):
        target.import_bundle(crafted(bundle, tmp_path / "short.zip", drop=media[:1]))
    # a text file stored under its true hash but a .png name
    import hashlib
    fake = b"not an image at all\n" * 10
    name = hashlib.sha256(fake).hexdigest() + ".png"

    def edit(document):
        document["tables"]["images"][0]["media"] = name
    with pytest.raises(InvalidInput, match=f"media {name} is not a .png file"):
        target.import_bundle(crafted(bundle, tmp_path / "fake.zip", edit, add=[(f"media/{name}", fake)]))
    # members that are no part of a bundle
    for member in ("../../evil.txt", "/etc/cron.d/x", "media/../../x", "notes.txt"):
        with pytest.raises(InvalidInput, match="not part of a storynb bundle"):
            target.import_bundle(crafted(bundle, tmp_path / "extra.zip", add=[(member, b"x")]))
    assert target.projects().empty and list(target.media.tmp.iterdir()) == []
    assert stored(target) == stored(Studio(tmp_path / "x" / "s.db"))


def test_a_failure_while_writing_rows_leaves_nothing_behind(source, target, tmp_path):
    _, bundle = source

    def edit(document):  # a template that is not valid Jinja fails inside the transaction
        document["prompt_set"]["name"] = "brand new set"
        document["prompt_templates"][-1]["body"] = "{% for x in %}"
    sets = target.db["prompt_sets"].count
    before = stored(target)
    with pytest.raises(InvalidInput, match="paths.zip|bad.zip"):
        target.import_bundle(crafted(bundle, tmp_path / "bad.zip", edit))
    assert target.projects().empty and target.db["prompt_sets"].count == sets
    assert target.db["images"].count == 0 and target.db["calls"].count == 0
    assert stored(target) == before  # the media it had stored were removed again

    def clash(document):  # two camera rows for one shot: fails late, after most rows went in
        cameras = document["tables"]["camera"]
        cameras.append({**cameras[0], "id": max(c["id"] for c in cameras) + 1})
    with pytest.raises(InvalidInput, match="rows do not fit together.*UNIQUE"):
        target.import_bundle(crafted(bundle, tmp_path / "clash.zip", clash))
    assert target.projects().empty and target.db["prompt_sets"].count == sets
    for table in ("calls", "shots", "stories", "storyboards", "images", "camera", "stages"):
        assert target.db[table].count == 0, table
    assert stored(target) == before


def test_media_store_names(tmp_path):
    store = MediaStore(tmp_path / "media")
    for bad in ("/etc/hostname", "../x", "", None, "a" * 64, "a" * 64 + ".exe", "A" * 64 + ".png"):
        with pytest.raises(InvalidInput, match="not a stored media name"):
            store.path(bad)
        assert not store.exists(bad)
    good = "a" * 64 + ".png"
    assert store.path(good) == store.root / "aa" / good
    with pytest.raises(InvalidInput, match="suffix"):
        store.scratch("/../../x")
    src = tmp_path / "x.exe"
    src.write_bytes(b"x")
    with pytest.raises(InvalidInput, match="cannot store a .exe file"):
        store.add(src)
    (store.root / "zz").mkdir()
    (store.root / "zz" / "stray.txt").write_text("x")
    assert store.all_names() == set()
    assert store.remove_unreferenced(set(), grace_s=0) == (0, 0)


def test_a_project_wide_media_column_travels_and_is_checked(source, target, tmp_path):
    """Project-level media (the user's background music) is one entry in
    storynb.media.MEDIA_COLUMNS, and gc, disk usage, bundles and their checks all follow."""
    from storynb.media import MEDIA_COLUMNS

    assert MEDIA_COLUMNS["projects"] == ("music",)
    project, _ = source
    studio = project.studio
    song = next(n for n in studio.referenced_media(project.id) if n.endswith(".wav"))
    studio.db["projects"].update(project.id, {"music": song})
    try:
        assert song in studio.referenced_media(project.id)
        bundle = project.export_bundle(tmp_path / "music.zip")
        copy = target.import_bundle(bundle)
        assert copy.row["music"] == song and target.media.exists(song)
        evil = crafted(bundle, tmp_path / "evil.zip", _edit(("project", "music"), "/etc/hostname"))
        with pytest.raises(InvalidInput, match="the project's music names media '/etc/hostname'"):
            target.import_bundle(evil)
        builtin = crafted(bundle, tmp_path / "builtin.zip", _edit(("project", "music"), "builtin"))
        assert target.import_bundle(builtin).row["music"] == "builtin"
    finally:  # the source studio is shared by this module's tests
        studio.db["projects"].update(project.id, {"music": None})
