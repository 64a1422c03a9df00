"""Play links (reporting/report_audio.py AudioLinks): folders listed once, the listings kept
bounded, the same links whatever order the utterances come in."""

from spectragram_bench.reporting.report_audio import AudioLinks


def test_links_are_the_same_after_a_folders_listing_was_dropped(tmp_path):
    out = tmp_path / "report"
    out.mkdir()
    folders = [tmp_path / "corpus" / f"f{i}" for i in range(3)]
    for f in folders:
        f.mkdir(parents=True)
        (f / "a.flac").write_bytes(b"x")
    links = AudioLinks(out, out / "clips")
    links.LISTED = 1  # every other folder's listing is dropped at once
    order = [0, 1, 2, 0, 2, 1, 0]
    got = [links.href(1, str(folders[i] / "a.flac"), None) for i in order]
    assert got == [f"../corpus/f{i}/a.flac" for i in order]
    assert len(links._names) == 1
    assert links.href(1, str(folders[0] / "missing.flac"), None) is None  # stat-ed: not there
    assert links.href(1, str(folders[2] / "missing.flac"), None) is None  # listed: not there
    assert links.href(1, str(tmp_path / "nowhere" / "a.flac"), None) is None
