"""What the interop guideline's block-storage tests (Tempest) check, as a
user sees it: the readonly flag shown among a volume's metadata, as Cinder
shows its visible admin metadata (SQLite and PostgreSQL)."""

from __future__ import annotations

from tests.functional.volume.conftest import Cinder, project_user


def test_the_readonly_flag_is_in_the_volumes_metadata(cinder: Cinder) -> None:
    volume = cinder.create(metadata={"purpose": "conformance"})
    assert volume["metadata"] == {"purpose": "conformance"}  # not set: not shown
    for flag, shown in ((True, "True"), (False, "False")):
        resp = cinder.action(volume["id"], {"os-update_readonly_flag": {"readonly": flag}})
        assert resp.status_code == 202, resp.text
        got = cinder.show(volume["id"])
        assert got["metadata"] == {"purpose": "conformance", "readonly": shown}
        listed = cinder.get("/volumes/detail").json()["volumes"]
        assert [v["metadata"] for v in listed if v["id"] == volume["id"]] == [got["metadata"]]
    # the volume's own metadata API keeps only what the user set
    own = cinder.get(f"/volumes/{volume['id']}/metadata").json()["metadata"]
    assert own == {"purpose": "conformance"}


def test_a_project_member_sees_the_readonly_flag_too(cinder: Cinder) -> None:
    member, _user, _project = project_user(cinder.server, "member")
    volume = member.create()
    resp = member.action(volume["id"], {"os-update_readonly_flag": {"readonly": True}})
    assert resp.status_code == 202, resp.text
    assert member.show(volume["id"])["metadata"] == {"readonly": "True"}
