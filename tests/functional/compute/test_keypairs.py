"""Key pairs through the openstack CLI (and a few raw requests for the error cases)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import Server
from tests.functional.compute.conftest import Nova, osc, osc_json, project_user, unique


def test_cli_create_list_show_delete(cloud: Server, tmp_path: Path) -> None:
    name = unique("k")
    key = osc(cloud, "keypair", "create", name).stdout
    assert "PRIVATE KEY" in key
    listed = osc_json(cloud, "keypair", "list")
    (row,) = [k for k in listed if k["Name"] == name]
    assert row["Fingerprint"]
    shown = osc_json(cloud, "keypair", "show", name)
    assert shown["name"] == name
    assert shown["type"] == "ssh"
    assert shown["fingerprint"] == row["Fingerprint"]
    public = osc(cloud, "keypair", "show", "--public-key", name).stdout.strip()
    assert public.startswith("ssh-ed25519 AAAA")
    # the fingerprint is the one ssh-keygen computes (md5, colon separated)
    pub = tmp_path / "k.pub"
    pub.write_text(public + "\n")
    out = subprocess.run(["ssh-keygen", "-l", "-E", "md5", "-f", str(pub)], capture_output=True, text=True)
    if out.returncode == 0:
        assert out.stdout.split()[1] == "MD5:" + shown["fingerprint"]
    osc(cloud, "keypair", "delete", name)
    assert name not in [k["Name"] for k in osc_json(cloud, "keypair", "list")]
    assert osc(cloud, "keypair", "show", name, check=False).returncode != 0


def test_cli_import_public_key(cloud: Server, nova: Nova, tmp_path: Path) -> None:
    created = nova.post("/os-keypairs", json={"keypair": {"name": unique("gen")}}).json()["keypair"]
    pub = tmp_path / "id.pub"
    pub.write_text(created["public_key"] + "\n")
    name = unique("imp")
    imported = osc_json(cloud, "keypair", "create", "--public-key", str(pub), name)
    assert imported["name"] == name
    assert imported["fingerprint"] == created["fingerprint"]
    assert osc(cloud, "keypair", "show", "--public-key", name).stdout.strip() == created["public_key"].strip()


def test_raw_import_returns_no_private_key(nova: Nova) -> None:
    n = nova.at("2.10")
    gen = n.post("/os-keypairs", json={"keypair": {"name": unique("gen")}})
    assert gen.status_code == 201, gen.text
    public = gen.json()["keypair"]["public_key"]
    resp = n.post("/os-keypairs", json={"keypair": {"name": unique("imp"), "public_key": public}})
    assert resp.status_code == 201, resp.text
    kp = resp.json()["keypair"]
    assert "private_key" not in kp
    assert set(kp) >= {"name", "public_key", "fingerprint", "user_id", "type"}


def test_invalid_public_key_is_400(nova: Nova) -> None:
    for bad in ["not a key", "ssh-rsa AAAAnotbase64!!", ""]:
        resp = nova.at("2.10").post("/os-keypairs", json={"keypair": {"name": unique("bad"), "public_key": bad}})
        assert resp.status_code == 400, (bad, resp.text)
        assert resp.json()["badRequest"]["code"] == 400


def test_invalid_name_is_400(nova: Nova) -> None:
    for name in ["", "a" * 256, "bad/name"]:
        resp = nova.at("2.10").post("/os-keypairs", json={"keypair": {"name": name}})
        assert resp.status_code == 400, (name, resp.text)


def test_duplicate_is_409(cloud: Server, nova: Nova) -> None:
    name = unique("dup")
    osc(cloud, "keypair", "create", name)
    resp = nova.at("2.10").post("/os-keypairs", json={"keypair": {"name": name}})
    assert resp.status_code == 409, resp.text
    assert resp.json()["conflictingRequest"]["code"] == 409
    proc = osc(cloud, "keypair", "create", name, check=False)
    assert proc.returncode != 0


def test_keypairs_are_per_user(cloud: Server, nova: Nova) -> None:
    member, _project = project_user(cloud, version="2.10")
    name = unique("mine")
    assert member.post("/os-keypairs", json={"keypair": {"name": name}}).status_code == 201
    assert nova.get(f"/os-keypairs/{name}").status_code == 404
    assert name not in [k["keypair"]["name"] for k in nova.get("/os-keypairs").json()["keypairs"]]
    # the same name for another user is fine
    assert nova.post("/os-keypairs", json={"keypair": {"name": name}}).status_code == 200
    assert member.delete(f"/os-keypairs/{name}").status_code == 204
    assert member.get(f"/os-keypairs/{name}").status_code == 404
    assert nova.get(f"/os-keypairs/{name}").status_code == 200


def test_generation_is_gone_at_292(nova: Nova) -> None:
    resp = nova.at("2.92").post("/os-keypairs", json={"keypair": {"name": unique("gen")}})
    assert resp.status_code == 400, resp.text


def test_unknown_keypair_is_404(nova: Nova) -> None:
    resp = nova.get("/os-keypairs/nope")
    assert resp.status_code == 404
    assert resp.json()["itemNotFound"]["code"] == 404
    assert nova.delete("/os-keypairs/nope").status_code == 404
