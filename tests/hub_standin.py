"""A local stand-in for the Hugging Face Hub HTTP API: just the endpoints huggingface_hub 2.x calls to
create a dataset repo, list its files, validate a card, and upload files, over the LFS protocol
(preupload, LFS batch, PUT, commit) or the Xet protocol that hf_xet speaks (write token, CAS xorbs
and shards, commit). It keeps the repo's files and the uploaded objects in memory, records every
request, and can be told to fail uploads after N objects (`fail_after_uploads`) to interrupt a push.
Xet xorbs are stored as received, not decoded: a file's content is checked by the sha256 that
the client computed while chunking it and committed.

It also serves what was pushed back, as the Hub does for `datasets.load_dataset("ORG/NAME")` and
`hf_hub_download`: repo info with its files, the tree and paths-info listings, and file downloads
(HEAD/GET on `resolve/`, with byte ranges). Only files uploaded over LFS or committed inline can be
served (Xet xorbs are kept as received, not decoded): push with `HF_HUB_DISABLE_XET=1` to read back.

Start it with `StandInHub.start()`; point a client at it with `HF_ENDPOINT=hub.url`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

from stub_llm import send_json

LFS_SUFFIXES = (".tar", ".parquet", ".png", ".jpg", ".arrow")


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Request:
    method: str
    path: str
    authorization: str | None
    body_bytes: int


@dataclass
class StandInHub:
    server: ThreadingHTTPServer | None = None
    repos: dict[str, dict[str, dict]] = field(default_factory=dict)  # repo -> path -> file entry
    lfs: dict[str, bytes] = field(default_factory=dict)  # sha256 -> content
    requests: list[Request] = field(default_factory=list)
    uploads: list[str] = field(default_factory=list)  # every LFS object (sha256) or Xet xorb (hash) sent
    commits: list[list[str]] = field(default_factory=list)  # paths of each commit
    cards: list[str] = field(default_factory=list)  # README.md contents sent for validation
    xorbs: dict[str, int] = field(default_factory=dict)  # Xet: xorb hash -> bytes received
    xet_shards: list[int] = field(default_factory=list)  # Xet: sizes of the shards (file records) sent
    fail_after_uploads: int | None = None
    xet_fail_status: int = 403  # hf_xet retries 5xx for minutes; a refusal stops the push at once
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    @classmethod
    def start(cls) -> StandInHub:
        hub = cls()
        handler = type("Handler", (_Handler,), {"hub": hub})
        hub.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=hub.server.serve_forever, daemon=True).start()
        return hub

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def file_sha256(self, repo: str, path: str) -> str:
        entry = self.repos[repo][path]
        return entry["lfs"]["oid"] if entry.get("lfs") else hashlib.sha256(entry["content"]).hexdigest()

    def file_bytes(self, repo: str, path: str) -> bytes:
        entry = self.repos[repo][path]
        return self.lfs[entry["lfs"]["oid"]] if entry.get("lfs") else entry["content"]


class _Handler(BaseHTTPRequestHandler):
    hub: StandInHub
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet
        pass

    # ---- plumbing

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _send(self, status: int, payload=None, headers: dict | None = None) -> None:
        send_json(self, status, payload, headers)

    def _handle(self, method: str) -> None:
        body = self._body() if method in ("POST", "PUT") else b""
        path = unquote(urlsplit(self.path).path)
        hub = self.hub
        with hub.lock:
            hub.requests.append(Request(method, path, self.headers.get("Authorization"), len(body)))
        parts = path.strip("/").split("/")
        try:
            if method == "POST" and path == "/api/repos/create":
                return self._create(json.loads(body))
            if method == "GET" and parts[:2] == ["api", "datasets"] and parts[4:5] == ["tree"]:
                recursive = "recursive=true" in urlsplit(self.path).query.lower()
                return self._tree("/".join(parts[2:4]), "/".join(parts[6:]), recursive)
            if method == "POST" and parts[:2] == ["api", "datasets"] and parts[4:5] == ["preupload"]:
                return self._preupload("/".join(parts[2:4]), json.loads(body))
            if method == "POST" and parts[0] == "datasets" and path.endswith(".git/info/lfs/objects/batch"):
                return self._lfs_batch(json.loads(body))
            if method == "PUT" and parts[0] == "lfs-upload":
                return self._lfs_put(parts[1], body)
            if method == "POST" and parts[:2] == ["api", "datasets"] and parts[4:5] == ["commit"]:
                return self._commit("/".join(parts[2:4]), body)
            if method == "GET" and parts[:2] == ["api", "datasets"] and parts[4:5] == ["xet-write-token"]:
                return self._xet_token()
            if parts[0] == "cas":
                return self._cas(method, parts[1:], body)
            if method == "POST" and path == "/api/validate-yaml":
                return self._validate_yaml(json.loads(body))
            if method == "GET" and parts[:2] == ["api", "datasets"] and parts[4:5] in (["revision"], []):
                return self._info("/".join(parts[2:4]))
            if method == "POST" and parts[:2] == ["api", "datasets"] and parts[4:5] == ["paths-info"]:
                return self._paths_info("/".join(parts[2:4]), body)
            if method in ("GET", "HEAD") and parts[0] == "datasets" and parts[3:4] == ["resolve"]:
                return self._resolve(method, "/".join(parts[1:3]), "/".join(parts[5:]))
        except (KeyError, ValueError) as exc:
            return self._send(400, {"error": f"stand-in: bad request: {exc}"})
        self._send(404, {"error": f"stand-in: no route {method} {path}"})

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_HEAD(self) -> None:
        self._handle("HEAD")

    # ---- endpoints

    def _create(self, payload: dict) -> None:
        repo = (
            f"{payload['organization']}/{payload['name']}" if payload.get("organization") else payload["name"]
        )
        with self.hub.lock:
            self.hub.repos.setdefault(repo, {})
        self._send(200, {"url": f"{self.hub.url}/datasets/{repo}", "name": repo})

    def _tree(self, repo: str, folder: str = "", recursive: bool = True) -> None:
        if repo not in self.hub.repos:
            return self._send(404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
        prefix = folder.strip("/") + "/" if folder.strip("/") else ""
        entries, folders = [], set()
        for path, entry in sorted(self.hub.repos[repo].items()):
            if not path.startswith(prefix):
                continue
            rest = path[len(prefix) :]
            if not recursive and "/" in rest:
                folders.add(prefix + rest.split("/", 1)[0])
                continue
            if recursive:
                parents = rest.split("/")[:-1]
                folders.update(prefix + "/".join(parents[: n + 1]) for n in range(len(parents)))
            entries.append(self._file_item(path, entry))
        if prefix and not entries and not folders:
            return self._send(404, {"error": "Entry not found"}, {"X-Error-Code": "EntryNotFound"})
        dirs = [{"type": "directory", "path": d, "oid": "0" * 40} for d in sorted(folders)]
        self._send(200, dirs + entries)

    @staticmethod
    def _file_item(path: str, entry: dict) -> dict:
        item = {"type": "file", "path": path, "size": entry["size"], "oid": entry["oid"]}
        if entry.get("lfs"):
            item["lfs"] = entry["lfs"]
        return item

    def _head_sha(self, repo: str) -> str:
        return hashlib.sha1(f"{repo}:{len(self.hub.commits)}".encode()).hexdigest()

    def _info(self, repo: str) -> None:
        if repo not in self.hub.repos:
            return self._send(404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
        files = self.hub.repos[repo]
        siblings = [{"rfilename": path, "size": entry["size"]} for path, entry in sorted(files.items())]
        self._send(
            200,
            {"id": repo, "sha": self._head_sha(repo), "private": False, "disabled": False, "gated": False,
             "siblings": siblings, "tags": [], "downloads": 0, "likes": 0},
        )  # fmt: skip

    def _paths_info(self, repo: str, body: bytes) -> None:
        from urllib.parse import parse_qs

        if repo not in self.hub.repos:
            return self._send(404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
        if self.headers.get("Content-Type", "").startswith("application/json"):
            paths = json.loads(body).get("paths", [])
        else:
            paths = parse_qs(body.decode()).get("paths", [])
        files = self.hub.repos[repo]
        found = []
        for path in paths:
            path = path.strip("/")
            if path in files:
                found.append(self._file_item(path, files[path]))
            elif any(p.startswith(path + "/") for p in files) or path == "":
                found.append({"type": "directory", "path": path, "oid": "0" * 40})
        self._send(200, found)

    def _resolve(self, method: str, repo: str, path: str) -> None:
        files = self.hub.repos.get(repo)
        if files is None or path not in files:
            code = "RepoNotFound" if files is None else "EntryNotFound"
            if method == "HEAD":  # no body after HEAD: the connection stays usable
                self.send_response(404)
                self.send_header("X-Error-Code", code)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            return self._send(404, {"error": code}, {"X-Error-Code": code})
        entry = files[path]
        data = self.hub.file_bytes(repo, path)
        headers = {"X-Repo-Commit": self._head_sha(repo), "Accept-Ranges": "bytes"}
        if entry.get("lfs"):
            headers["X-Linked-Etag"] = f'"{entry["lfs"]["oid"]}"'
            headers["X-Linked-Size"] = str(len(data))
            headers["ETag"] = f'"{entry["lfs"]["oid"]}"'
        else:
            headers["ETag"] = f'"{entry["oid"]}"'
        status, start, end = 200, 0, len(data)
        wanted = self.headers.get("Range", "")
        if wanted.startswith("bytes="):
            first, _, last = wanted[6:].partition("-")
            start = int(first) if first else max(0, len(data) - int(last))
            end = min(len(data), int(last) + 1) if first and last else len(data)
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{len(data)}"
        chunk = data[start:end]
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(chunk)))
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        if method == "GET":
            self.wfile.write(chunk)

    def _preupload(self, repo: str, payload: dict) -> None:
        files = []
        for f in payload["files"]:
            lfs = f["path"].endswith(LFS_SUFFIXES) or f["size"] > 1_000_000
            existing = self.hub.repos.get(repo, {}).get(f["path"])
            oid = None
            if existing:
                oid = existing["lfs"]["oid"] if existing.get("lfs") else existing["oid"]
            files.append(
                {
                    "path": f["path"],
                    "uploadMode": "lfs" if lfs else "regular",
                    "shouldIgnore": False,
                    "oid": oid,
                }
            )
        self._send(200, {"files": files})

    def _xet_token(self) -> None:
        import time

        cas, token, exp = f"{self.hub.url}/cas", "xet-standin-token", int(time.time()) + 3600
        headers = {"X-Xet-Cas-Url": cas, "X-Xet-Access-Token": token, "X-Xet-Token-Expiration": str(exp)}
        self._send(200, {"casUrl": cas, "accessToken": token, "exp": exp}, headers)

    def _cas(self, method: str, parts: list[str], body: bytes) -> None:
        """The Xet CAS API (huggingface.co/docs/xet/api): xorbs and shards are stored as sent."""
        hub = self.hub
        if method == "POST" and parts[:2] == ["v1", "xorbs"]:
            with hub.lock:
                if hub.fail_after_uploads is not None and len(hub.uploads) >= hub.fail_after_uploads:
                    return self._send(
                        hub.xet_fail_status, {"error": "stand-in: refused (simulated interruption)"}
                    )
                inserted = parts[-1] not in hub.xorbs
                hub.xorbs[parts[-1]] = len(body)
                hub.uploads.append(parts[-1])
            return self._send(200, {"was_inserted": inserted})
        if method == "POST" and parts == ["v1", "shards"]:
            with hub.lock:
                hub.xet_shards.append(len(body))
            return self._send(200, {"result": 0})
        return self._send(404, {"error": "stand-in: not found"})

    def _validate_yaml(self, payload: dict) -> None:
        """The card's YAML header: parsed, and the fields the Hub checks in a dataset card."""
        import yaml

        errors = []
        content = payload["content"]
        if not content.startswith("---\n") or "\n---\n" not in content[4:]:
            errors.append("no YAML header")
        else:
            meta = yaml.safe_load(content[4 : content.index("\n---\n", 4)])
            if not isinstance(meta, dict):
                errors.append("the YAML header is not a mapping")
            else:
                if not isinstance(meta.get("license"), str):
                    errors.append("license: missing")
                for config in meta.get("configs", []):
                    files = config.get("data_files")
                    if not config.get("config_name") or not isinstance(files, list):
                        errors.append(f"configs: bad entry {config}")
                    for item in files or []:
                        if not (isinstance(item, dict) and item.get("split") and item.get("path")):
                            errors.append(f"configs: bad data_files entry {item}")
        self.hub.cards.append(content)
        self._send(400 if errors else 200, {"errors": [{"message": e} for e in errors], "warnings": []})

    def _lfs_batch(self, payload: dict) -> None:
        objects = []
        for obj in payload["objects"]:
            entry = {"oid": obj["oid"], "size": obj["size"]}
            if obj["oid"] not in self.hub.lfs:  # already stored: no action, the client skips it
                entry["actions"] = {"upload": {"href": f"{self.hub.url}/lfs-upload/{obj['oid']}"}}
            objects.append(entry)
        self._send(200, {"transfer": "basic", "objects": objects})

    def _lfs_put(self, oid: str, body: bytes) -> None:
        hub = self.hub
        with hub.lock:
            if hub.fail_after_uploads is not None and len(hub.uploads) >= hub.fail_after_uploads:
                return self._send(507, {"error": "stand-in: storage full (simulated interruption)"})
            if hashlib.sha256(body).hexdigest() != oid:
                return self._send(400, {"error": "stand-in: content does not match its oid"})
            hub.lfs[oid] = body
            hub.uploads.append(oid)
        self._send(200)

    def _commit(self, repo: str, body: bytes) -> None:
        lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
        changes = {}
        for line in lines:
            key, value = line["key"], line["value"]
            if key == "file":
                content = base64.b64decode(value["content"])
                changes[value["path"]] = {
                    "size": len(content),
                    "oid": git_blob_id(content),
                    "content": content,
                }
            elif key == "lfsFile":
                if value["oid"] not in self.hub.lfs and not self.hub.xet_shards:
                    return self._send(
                        400, {"error": f"stand-in: LFS object of {value['path']} was never uploaded"}
                    )
                pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{value['oid']}\nsize {value['size']}\n"
                changes[value["path"]] = {
                    "size": value["size"],
                    "oid": git_blob_id(pointer.encode()),
                    "lfs": {"oid": value["oid"], "size": value["size"], "pointerSize": len(pointer)},
                }
        deleted = [line["value"]["path"] for line in lines if line["key"] == "deletedFile"]
        with self.hub.lock:
            for path in deleted:
                self.hub.repos.get(repo, {}).pop(path, None)
                changes.setdefault(path, None)
            self.hub.repos.setdefault(repo, {}).update({k: v for k, v in changes.items() if v is not None})
            self.hub.commits.append(sorted(changes))
            oid = hashlib.sha1(str(len(self.hub.commits)).encode()).hexdigest()
        self._send(
            200,
            {"commitUrl": f"{self.hub.url}/datasets/{repo}/commit/{oid}", "commitOid": oid, "success": True},
        )
