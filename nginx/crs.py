"""Compile the OWASP Core Rule Set (Debian's `modsecurity-crs`) into the gateway's rule data.

    python nginx/crs.py [--crs DIR] [--paranoia-level N] [--out FILE]

Reads the request rules (REQUEST-9xx-*.conf, phases 1 and 2, and the .data files
they name), keeps those of the chosen paranoia level, and writes JSON that
`lua/hotelbook/crs.lua` applies. The CRS defaults (`tx.*` set by
REQUEST-901-INITIALIZATION, overridable as crs-setup.conf would) are constants
here: macros such as `%{tx.allowed_methods}` are expanded and rules gated on them
are resolved at compile time. A rule the Lua engine cannot express is listed by
id with the reason, never silently dropped. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:  # Python 3.11+
    import re._parser as sre_parse  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover
    import sre_parse  # type: ignore[no-redef]

CRS_DIR = Path("/usr/share/modsecurity-crs/rules")

OPERATORS = {"rxWithin", "rx", "pm", "pmFromFile", "pmf", "streq", "contains", "containsWord", "beginsWith", "endsWith",
             "within", "eq", "ge", "gt", "lt", "le", "validateByteRange", "validateUrlEncoding",
             "validateUtf8Encoding", "detectSQLi", "detectXSS", "unconditionalMatch", "noMatch"}
TRANSFORMS = {"lowercase", "urlDecodeUni", "urlDecode", "htmlEntityDecode", "jsDecode", "cssDecode", "cmdLine",
              "compressWhitespace", "removeWhitespace", "removeNulls", "replaceNulls", "replaceComments",
              "removeCommentsChar", "normalizePath", "normalisePath", "normalizePathWin", "normalisePathWin",
              "utf8toUnicode", "base64Decode", "base64DecodeExt", "hexDecode", "hexEncode", "length", "trim",
              "trimLeft", "trimRight", "escapeSeqDecode", "sha1", "md5", "sqlHexDecode", "urlEncode"}
# Collections the engine fills for each request. XML holds an XML body's text and
# attribute values; FILES, FILES_NAMES and MULTIPART_PART_HEADERS a multipart body's
# file parts and part headers (waf.lua reads them; no route takes either kind).
VARIABLES = {"ARGS", "ARGS_NAMES", "ARGS_GET", "ARGS_GET_NAMES", "ARGS_POST", "ARGS_POST_NAMES",
             "REQUEST_COOKIES", "REQUEST_COOKIES_NAMES", "REQUEST_HEADERS", "REQUEST_HEADERS_NAMES",
             "REQUEST_FILENAME", "REQUEST_BASENAME", "REQUEST_URI", "REQUEST_URI_RAW", "REQUEST_LINE",
             "REQUEST_METHOD", "REQUEST_PROTOCOL", "REQUEST_BODY", "QUERY_STRING", "FILES", "FILES_NAMES",
             "FILES_COMBINED_SIZE", "ARGS_COMBINED_SIZE", "MULTIPART_PART_HEADERS", "XML", "REQBODY_PROCESSOR",
             "MATCHED_VAR", "MATCHED_VARS", "MATCHED_VAR_NAME", "MATCHED_VARS_NAMES", "TX"}
SEVERITY_SCORES = {"critical": 5, "error": 4, "warning": 3, "notice": 2}

# crs-setup.conf for this project: every method the services answer is allowed.
DEFAULT_SETUP = {
    "paranoia_level": 1,
    "inbound_anomaly_score_threshold": 5,
    "allowed_methods": "GET HEAD POST PUT PATCH DELETE OPTIONS",
}


class CompileError(Exception):
    pass


# --- reading SecLang ------------------------------------------------------------------


def directives(text: str) -> list[list[str]]:
    """The directives of a .conf file, each as its list of arguments (quotes removed)."""
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        lines.append(pending + line)
        pending = ""
    return [arguments(line) for line in lines]


def arguments(line: str) -> list[str]:
    out: list[str] = []
    i, n = 0, len(line)
    while i < n:
        if line[i].isspace():
            i += 1
            continue
        if line[i] == '"':
            i += 1
            buf = []
            while i < n and line[i] != '"':
                if line[i] == "\\" and i + 1 < n and line[i + 1] == '"':
                    buf.append('"')
                    i += 2
                    continue
                buf.append(line[i])
                i += 1
            out.append("".join(buf))
            i += 1
        else:
            j = i
            while j < n and not line[j].isspace():
                j += 1
            out.append(line[i:j])
            i = j
    return out


def split_actions(text: str) -> list[tuple[str, str]]:
    parts, buf, quoted = [], [], False
    for ch in text:
        if ch == "'":
            quoted = not quoted
        if ch == "," and not quoted:
            parts.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
    parts.append("".join(buf))
    out = []
    for part in parts:
        part = part.strip()
        if not part:
            continue
        name, _, value = part.partition(":")
        value = value.strip()
        if len(value) >= 2 and value[0] == "'" and value[-1] == "'":
            value = value[1:-1]
        out.append((name.strip(), value))
    return out


# --- compiling ------------------------------------------------------------------------


@dataclass
class Compiler:
    crs_dir: Path
    setup: dict[str, Any]
    tx: dict[str, str] = field(default_factory=dict)
    rules: list[dict[str, Any]] = field(default_factory=list)
    unsupported: list[dict[str, Any]] = field(default_factory=list)
    data_files: dict[str, list[str]] = field(default_factory=dict)

    # TX defaults: REQUEST-901 sets each one unless crs-setup.conf did.
    def initial_tx(self) -> None:
        text = (self.crs_dir / "REQUEST-901-INITIALIZATION.conf").read_text(encoding="utf-8")
        for args in directives(text):
            if args[0] not in ("SecRule", "SecAction"):
                continue
            for name, value in split_actions(args[-1]):
                match = re.fullmatch(r"tx\.(\w+)=(.*)", value, re.S) if name == "setvar" else None
                if match and match.group(1).lower() not in self.tx:
                    self.tx[match.group(1).lower()] = match.group(2)
        for key, value in self.setup.items():
            self.tx[key] = str(value)
        self.tx["executing_paranoia_level"] = self.tx["paranoia_level"]
        self.tx["detection_paranoia_level"] = self.tx["paranoia_level"]

    def expand(self, text: str) -> str:
        def one(match: re.Match[str]) -> str:
            scope, name = match.group(1).lower(), match.group(2).lower()
            if scope == "tx" and name in self.tx:
                return self.expand(self.tx[name])
            raise CompileError(f"macro %{{{match.group(1)}.{match.group(2)}}} is not known at compile time")
        return re.sub(r"%\{(\w+)\.(\w+)\}", one, text)

    def template(self, text: str) -> list[Any]:
        """A text with macros only known per request (%{tx.0}..%{tx.9}, captures, and
        %{request_headers.NAME}) as pieces: strings and {"tx": "1"} / {"header": "host"};
        the compile-time macros are expanded."""
        pieces: list[Any] = []
        pos = 0
        for match in re.finditer(r"%\{(\w+)\.([\w-]+)\}", text):
            scope, name = match.group(1).lower(), match.group(2).lower()
            if scope == "tx" and re.fullmatch(r"\d", name):
                piece: Any = {"tx": name}
            elif scope == "request_headers":
                piece = {"header": name}
            elif scope == "tx" and name in self.tx:
                piece = self.expand(self.tx[name])
            else:
                raise CompileError(f"macro %{{{match.group(1)}.{match.group(2)}}} is not known at compile time")
            pieces += [text[pos:match.start()], piece]
            pos = match.end()
        pieces.append(text[pos:])
        out: list[Any] = []
        for piece in pieces:  # adjacent strings joined, empty ones dropped
            if isinstance(piece, str) and out and isinstance(out[-1], str):
                out[-1] += piece
            elif piece != "":
                out.append(piece)
        return out

    def score(self, value: str) -> int:
        return int(self.expand(value.lstrip("+")))

    def scores(self, actions: list[tuple[str, str]]) -> int:
        """The anomaly score a rule adds (setvar:'tx.anomaly_score_plN=+%{tx.critical_anomaly_score}')."""
        return sum(self.score(v.split("=", 1)[1]) for n, v in actions
                   if n == "setvar" and re.match(r"tx\.(?:inbound_)?anomaly_score_pl\d=\+", v, re.I))

    def compile(self) -> dict[str, Any]:
        self.initial_tx()
        level = int(self.tx["paranoia_level"])
        files = sorted(p for p in self.crs_dir.glob("REQUEST-9*.conf")
                       if not p.name.startswith(("REQUEST-901-", "REQUEST-903.")))
        for path in files:
            self.compile_file(path, level)
        return {
            "source": str(self.crs_dir),
            "version": self.crs_version(),
            "paranoia_level": level,
            "inbound_anomaly_score_threshold": int(self.tx["inbound_anomaly_score_threshold"]),
            "rules": self.rules,
            "unsupported": self.unsupported,
        }

    def crs_version(self) -> str:
        text = (self.crs_dir / "REQUEST-901-INITIALIZATION.conf").read_text(encoding="utf-8")
        match = re.search(r'SecComponentSignature\s+"([^"]+)"', text)
        return match.group(1) if match else "unknown"

    def compile_file(self, path: Path, level: int) -> None:
        file_level = 1
        chain_head: dict[str, Any] | None = None
        chain_tail: dict[str, Any] | None = None
        skipping = False
        for args in directives(path.read_text(encoding="utf-8")):
            kind = args[0]
            if kind == "SecMarker":
                skipping = False
                continue
            if kind not in ("SecRule", "SecAction"):
                continue
            actions = split_actions(args[-1]) if len(args) > 1 else []
            acts = dict(actions)
            if kind == "SecRule" and args[1].upper() in ("TX:EXECUTING_PARANOIA_LEVEL", "TX:DETECTION_PARANOIA_LEVEL"):
                match = re.fullmatch(r"@lt (\d+)", args[2])
                if match and "skipAfter" in acts:
                    file_level = int(match.group(1))
                    skipping = level < file_level
                    continue
            if chain_tail is not None:  # a link of the chain being read
                # CRS puts the score on the last link of a chain
                chain_head["score"] = chain_head.get("score", 0) + self.scores(actions)
                link = self.link(args, acts, path) if chain_head.get("ok", True) else None
                if link is None:
                    chain_head["ok"] = False
                else:
                    chain_tail["chain"] = link
                    chain_tail = link
                if "chain" not in acts:
                    self.finish(chain_head)
                    chain_head = chain_tail = None
                continue
            rule_id = acts.get("id")
            if skipping or rule_id is None:
                if "chain" in acts:  # skipped chains still swallow their links
                    chain_head = {"ok": False, "id": rule_id, "skip": True}
                    chain_tail = chain_head
                continue
            phase = acts.get("phase", "2")
            phase = {"request": "2", "response": "4", "logging": "5"}.get(phase, phase)
            if phase not in ("1", "2"):
                continue
            head = {"id": int(rule_id), "phase": int(phase), "pl": file_level, "file": path.name,
                    "msg": acts.get("msg", ""), "ok": True}
            self._chain_tx = []
            head["score"] = self.scores(actions)
            if kind == "SecAction":
                continue  # bookkeeping only (counters, defaults)
            link = self.link(args, acts, path, head)
            if link is None:
                head["ok"] = False
            else:
                head.update(link)
            if "chain" in acts:
                chain_head = chain_tail = head
            else:
                self.finish(head)

    def finish(self, head: dict[str, Any]) -> None:
        if head.get("skip"):
            return
        ok = head.pop("ok", True)
        if not ok:
            return
        if head.get("op") == "noMatch":
            return  # switched off by the setup (a limit that is not set, a check not asked for)
        if head.get("score", 0) == 0 and not head.get("always"):
            # No score: CRS bookkeeping (sampling, counters, markers) with no verdict.
            return
        head.pop("always", None)
        fuse_capture_chain(head)
        if has_setvars(head):
            self.fail(head, "a value stored with setvar and read by a later link in a shape the engine "
                            "does not run")
            return
        self.rules.append(head)

    def fail(self, head: dict[str, Any] | None, reason: str) -> None:
        if head is not None and head.get("id"):
            self.unsupported.append({"id": head["id"], "file": head["file"], "reason": reason})

    def link(self, args: list[str], acts: dict[str, str], path: Path,
             head: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """One SecRule (or one link of a chain) as engine data; None if inexpressible."""
        head = head or self._current_head
        self._current_head = head
        if len(args) < 4:
            self.fail(head, "malformed rule")
            return None
        variables, operator = args[1], args[2]
        try:
            targets, exclusions, constant = self.targets(variables)
            op = self.operator(operator, path)
            transforms = self.transforms(acts, args[-1])
        except CompileError as error:
            self.fail(head, str(error))
            return None
        link: dict[str, Any] = {"targets": targets, "t": transforms, **op}
        setvars = self.setvars(args[-1])
        if setvars:
            link["setvars"] = setvars
            for item in setvars:
                self._chain_tx.append(item["name"])
        if exclusions:
            link["excl"] = exclusions
        if "capture" in acts:
            link["capture"] = True
        if "multiMatch" in acts:
            link["multi"] = True
        if constant is not None:
            # A TX value known at compile time: decide now.
            verdict = self.const_match(constant, op)
            if verdict is None:
                self.fail(head, f"operator {op['op']} on a compile-time constant")
                return None
            link = {"targets": [], "t": [], "op": "unconditionalMatch" if verdict else "noMatch"}
        return link

    _current_head: dict[str, Any] | None = None
    # names (as templates) that the links read so far of the current rule set at run time
    _chain_tx: list[list[Any]] = field(default_factory=list)

    def setvars(self, raw: str) -> list[dict[str, Any]]:
        """`setvar:'tx.NAME=VALUE'` actions that store a request's value (a capture) for
        the next link; score counters (`=+`) and compile-time settings are not here."""
        out = []
        for name, value in split_actions(raw):
            if name != "setvar" or "=" not in value:
                continue
            key, _, val = value.partition("=")
            if val.startswith(("+", "-")) or not key.lower().startswith("tx."):
                continue
            try:
                name_tpl, value_tpl = self.template(key[3:].lower()), self.template(val)
            except CompileError:
                continue  # bookkeeping of other rules (counters): no request rule reads it here
            if all(isinstance(p, str) for p in name_tpl + value_tpl):
                continue  # a constant: not read by the request rules we compile
            out.append({"name": name_tpl, "value": value_tpl})
        return out

    def runtime_tx(self, key: str) -> dict[str, Any] | None:
        """A TX target whose value an earlier link of this rule sets per request."""
        for name in self._chain_tx:
            literal = name[0] if name and isinstance(name[0], str) else ""
            if len(name) == 1 and literal == key:
                return {"col": "TX", "key": key}
            if key.startswith("/") and key.endswith("/") and literal and \
                    re.match(key[1:-1], literal, re.I):
                return {"col": "TX", "keyre": key[1:-1]}
        return None

    def const_match(self, value: str, op: dict[str, Any]) -> bool | None:
        name, arg, neg = op["op"], op.get("arg"), op.get("neg", False)
        if name in ("eq", "ge", "gt", "lt", "le"):
            try:
                a, b = int(value or 0), int(arg)
            except ValueError:
                return None
            result = {"eq": a == b, "ge": a >= b, "gt": a > b, "lt": a < b, "le": a <= b}[name]
        elif name == "streq":
            result = value == arg
        elif name == "rx":
            result = re.search(arg, value) is not None
        else:
            return None
        return result != neg

    def targets(self, text: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str | None]:
        targets, exclusions, constant = [], [], None
        for item in text.split("|"):
            item = item.strip()
            negate = item.startswith("!")
            count = item.startswith("&")
            name = item.lstrip("!&")
            col, _, key = name.partition(":")
            col = col.upper()
            if col not in VARIABLES:
                raise CompileError(f"variable {col} is not supported")
            if col == "TX":
                k = key.lower()
                if re.fullmatch(r"\d", k):
                    targets.append({"col": "TX", "key": k})
                    continue
                if count:
                    constant = "1" if k in self.tx else "0"
                    continue
                if k in self.tx:
                    constant = self.expand(self.tx[k])
                    continue
                runtime = self.runtime_tx(k)
                if runtime is not None:
                    targets.append(runtime)
                    continue
                raise CompileError(f"TX:{key} is set at run time")
            entry: dict[str, Any] = {"col": col}
            if key:
                if len(key) > 1 and key.startswith("/") and key.endswith("/"):
                    entry["keyre"] = key[1:-1]
                else:
                    entry["key"] = key.lower()
            if count:
                entry["count"] = True
            (exclusions if negate else targets).append(entry)
        if constant is not None and targets:
            raise CompileError("a compile-time TX value mixed with request variables")
        return targets, exclusions, constant

    def operator(self, text: str, path: Path) -> dict[str, Any]:
        neg = text.startswith("!")
        text = text[1:] if neg else text
        if not text.startswith("@"):
            name, arg = "rx", text
        else:
            name, _, arg = text[1:].partition(" ")
        if name not in OPERATORS:
            raise CompileError(f"operator @{name} is not supported")
        pieces = self.template(arg)
        if all(isinstance(p, str) for p in pieces):
            arg = "".join(pieces)
            op: dict[str, Any] = {"op": name, "arg": arg}
        elif name in ("rx", "pm", "pmFromFile", "pmf", "validateByteRange"):
            raise CompileError(f"@{name} with a macro known only per request")
        else:
            # compared with a capture or a request header, read per request
            op = {"op": name, "arg": "", "arg_tpl": pieces}
        if neg:
            op["neg"] = True
        if name in ("pmFromFile", "pmf"):
            words: list[str] = []
            for file_name in arg.split():
                words += self.data_file(path.parent / file_name)
            op.update(op="pm", words=words)
            del op["arg"]
        elif name == "pm":
            op.update(words=arg.split())
            del op["arg"]
        if op["op"] == "pm":
            op["pm_re"] = phrase_regexes(op["words"])
            need = phrase_need(op["words"])
            if need is not None:
                op["need"] = need
        elif name == "rx":
            need = required_chars(arg)
            if need is not None:
                op["need"] = need
            factors = required_factors(arg)
            if factors is not None:
                op["factors"] = factors
        elif name == "validateByteRange":
            op["ranges"] = byte_ranges(arg)
        elif name == "within" or name == "containsWord":
            pass
        return op

    def data_file(self, path: Path) -> list[str]:
        if path.name not in self.data_files:
            words = []
            for line in path.read_text(encoding="utf-8").splitlines():
                line = line.strip()
                if line and not line.startswith("#"):
                    words.append(line)
            self.data_files[path.name] = words
        return self.data_files[path.name]

    def transforms(self, acts: dict[str, str], raw: str) -> list[str]:
        out: list[str] = []
        for name, value in split_actions(raw):
            if name != "t":
                continue
            if value == "none":
                out = []
                continue
            if value not in TRANSFORMS:
                raise CompileError(f"transformation t:{value} is not supported")
            out.append({"normalisePath": "normalizePath", "normalisePathWin": "normalizePathWin"}.get(value, value))
        return out


def has_setvars(link: dict[str, Any] | None) -> bool:
    while link:
        if link.get("setvars"):
            return True
        link = link.get("chain")
    return False


def fuse_capture_chain(head: dict[str, Any]) -> None:
    """CRS's policy checks capture a piece of a value, store it decorated
    (`setvar:'tx.extension=.%{tx.1}/'`) and test the stored value in a second link
    (`TX:EXTENSION "@within %{tx.restricted_extensions}"`). Such a chain is one test of
    each value: the engine's operator `rxWithin` (regex, capture group, decoration,
    the second link's transformations, then @within), so each value is judged alone."""
    second = head.get("chain")
    setvars = head.get("setvars") or []
    if not head.get("capture") or head.get("op") != "rx" or head.get("neg") or second is None \
            or second.get("chain") or len(setvars) != 1 or second.get("op") != "within" \
            or "arg_tpl" in second or len(second.get("targets", [])) != 1:
        return
    value = setvars[0]["value"]
    macros = [p for p in value if not isinstance(p, str)]
    if len(macros) != 1 or "tx" not in macros[0]:
        return
    at = value.index(macros[0])
    prefix = "".join(value[:at])
    suffix = "".join(value[at + 1:])
    target = second["targets"][0]
    name = setvars[0]["name"]
    if target.get("col") != "TX" or target.get("count"):
        return
    if "key" in target and not (len(name) == 1 and name[0] == target["key"]):
        return
    head.update(op="rxWithin", group=int(macros[0]["tx"]), prefix=prefix, suffix=suffix,
                then_t=second.get("t", []), within=second["arg"], within_neg=bool(second.get("neg")))
    for key in ("chain", "setvars", "capture"):
        head.pop(key, None)


def byte_ranges(text: str) -> list[list[int]]:
    ranges = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        low, _, high = part.partition("-")
        ranges.append([int(low), int(high or low)])
    return ranges


# --- @pm as regexes: the phrases as a prefix tree, matched by PCRE's JIT ---------------

PHRASE_REGEX_MAX = 16000  # characters per regex (PCRE's compiled size stays small)


def _escape_byte(b: int) -> str:
    ch = chr(b)
    return ch if ch.isascii() and ch.isalnum() else f"\\x{b:02x}"


def _trie_regex(trie: dict[int, Any]) -> str:
    """A prefix tree as a regex: {a: {b: {}, c: {None: {}}}} -> a(?:b|c)."""
    branches = []
    end = False
    for key in sorted(k for k in trie if k is not None):
        branches.append(_escape_byte(key) + _trie_regex(trie[key]))
    if None in trie:
        end = True
    if not branches:
        return ""
    if end:
        # a phrase ends here: the shorter one is enough for a match (no need to go on)
        return ""
    if len(branches) == 1:
        return branches[0]
    return "(?:" + "|".join(branches) + ")"


def phrase_regexes(words: list[str]) -> list[str]:
    """The phrases of @pm/@pmFromFile (case-insensitive, matched anywhere) as a few
    prefix-tree regexes, for ngx.re with the options "joi"."""
    # ASCII case folding, as PCRE's "i" and Lua's string.lower do
    phrases = sorted({w.encode("utf-8").lower() for w in words if w})
    chunks: list[list[bytes]] = [[]]
    size = 0
    for phrase in phrases:
        if size > PHRASE_REGEX_MAX and chunks[-1]:
            chunks.append([])
            size = 0
        chunks[-1].append(phrase)
        size += len(phrase) + 1
    out = []
    for chunk in chunks:
        trie: dict[Any, Any] = {}
        for phrase in chunk:
            node = trie
            for b in phrase:
                node = node.setdefault(b, {})
            node[None] = {}
        if chunk:
            out.append(_trie_regex(trie))
    return out


def phrase_need(words: list[str]) -> list[int] | None:
    """Bytes of which every match of a phrase list holds one: the rarest byte of each phrase."""
    need: set[int] = set()
    for word in words:
        data = word.encode("utf-8").lower()
        if not data:
            return None
        best = min(data, key=lambda b: _cost(frozenset([b])))
        need |= _fold({best}, True)
    if len(need) > 60:
        return None
    return sorted(need)


# --- required characters: a cheap test that skips a regex that cannot match -----------

ALL = frozenset(range(256))


def misread_by_python(pattern: str) -> bool:
    """PCRE syntax that Python's parser reads without error but differently: POSIX
    classes (`[[:alpha:]]`, a set of letters to Python), quoting (`\\Q...\\E`) and `\\v`
    (any vertical space to PCRE, the vertical tab alone to Python). The shortcuts are
    not derived for such patterns."""
    return "[:" in pattern or "\\Q" in pattern or "\\v" in pattern


def required_chars(pattern: str) -> list[int] | None:
    """Bytes of which every match must contain at least one, or None when no small set
    is known. A value holding none of them cannot match: the regex is not run."""
    if misread_by_python(pattern):
        return None
    flags = 0
    try:
        tree = sre_parse.parse(pattern, flags)
        ignore_case = bool(tree.state.flags & re.IGNORECASE)
        need = _need(tree, ignore_case)
    except Exception:  # PCRE syntax Python does not read: no shortcut
        return None
    if need is None or len(need) > 60:
        return None
    return sorted(need)


def _cost(chars: frozenset[int]) -> int:
    """How often a value holds one of these bytes: the set to keep is the rarest (a
    regex is skipped for every value without one). Letters and digits are in almost
    every value, spaces in prose, punctuation and control bytes are rare."""
    def one(c: int) -> int:
        if 48 <= c <= 57 or 65 <= c <= 90 or 97 <= c <= 122:
            return 10
        if c == 32:
            return 4
        return 1
    return sum(one(c) for c in chars)


def _fold(chars: set[int], ignore_case: bool) -> frozenset[int]:
    if not ignore_case:
        return frozenset(chars)
    out = set(chars)
    for c in chars:
        if 65 <= c <= 90:
            out.add(c + 32)
        elif 97 <= c <= 122:
            out.add(c - 32)
    return frozenset(out)


def _need(items: Any, ignore_case: bool) -> frozenset[int] | None:
    """For a sequence: the cheapest requirement of any element."""
    best: frozenset[int] | None = None
    for op, av in items:
        n = _need_one(op, av, ignore_case)
        if n is not None and (best is None or _cost(n) < _cost(best)):
            best = n
    return best


def _need_one(op: Any, av: Any, ignore_case: bool) -> frozenset[int] | None:
    name = str(op)
    if name == "LITERAL":
        return _fold({av}, ignore_case) if av < 256 else None
    if name == "NOT_LITERAL":
        return None
    if name == "IN":
        chars: set[int] = set()
        for iop, iav in av:
            iname = str(iop)
            if iname == "LITERAL":
                chars.add(iav)
            elif iname == "RANGE":
                chars.update(range(iav[0], min(iav[1], 255) + 1))
            else:  # NEGATE, CATEGORY: too wide
                return None
        return _fold(chars, ignore_case)
    if name == "SUBPATTERN":
        sub_flags = av[1] if len(av) > 1 else 0
        ic = bool(sub_flags & re.IGNORECASE) or ignore_case
        return _need(av[-1], ic)
    if name == "ATOMIC_GROUP":
        return _need(av, ignore_case)
    if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
        low, _high, item = av
        return _need(item, ignore_case) if low >= 1 else None
    if name == "BRANCH":
        union: set[int] = set()
        for branch in av[1]:
            n = _need(branch, ignore_case)
            if n is None:
                return None
            union |= n
        return frozenset(union)
    return None


# --- required factors: literal pieces of which every match holds one ------------------
#
# A regex scans every position of a value; a plain search for a few literals is much
# cheaper on long values (bodies, long headers). When every match of a regex must
# contain one of a small set of literal strings (compared in lower case), a value
# holding none of them cannot match and the regex is not run. The set comes from the
# regex's parse tree: for a sequence the rarest requirement of its elements (a run
# of literal characters, a group, a repeated item at least once), for an
# alternation the union over its branches.

MAX_FACTORS = 64


def required_factors(pattern: str) -> list[str] | None:
    """Lower-case ASCII strings of which every match (in lower case) contains at least
    one, or None when no useful set is known."""
    if misread_by_python(pattern):
        return None
    try:
        tree = sre_parse.parse(pattern, 0)
    except Exception:  # PCRE syntax Python does not read: no shortcut
        return None
    found = _factors_seq(list(tree))
    if not found or len(found) > MAX_FACTORS or all(len(f) < 2 for f in found):
        return None
    return sorted(found)


def _factor_cost(found: frozenset[str]) -> float:
    """How likely a value holds one of these strings: longer and fewer is rarer; of
    single characters, letters and digits are in almost every value, punctuation and
    control characters are rare."""
    def one(f: str) -> float:
        if len(f) > 1:
            return 1.0 / len(f) ** 2
        if f.isalnum():
            return 1.0
        return 0.5 if f == " " else 0.1
    return sum(one(f) for f in found)


def _literal_char(op: Any, av: Any) -> str | None:
    if str(op) == "LITERAL" and av < 128:
        return chr(av).lower()
    return None


def _factors_seq(items: list[Any]) -> frozenset[str] | None:
    best: frozenset[str] | None = None

    def consider(found: frozenset[str] | None) -> None:
        nonlocal best
        if found and len(found) <= MAX_FACTORS and (best is None or _factor_cost(found) < _factor_cost(best)):
            best = found

    run = ""
    for op, av in items:
        char = _literal_char(op, av)
        if char is not None:
            run += char
            continue
        if run:
            consider(frozenset([run]))
            run = ""
        consider(_factors_one(op, av))
    if run:
        consider(frozenset([run]))
    return best


def _factors_one(op: Any, av: Any) -> frozenset[str] | None:
    name = str(op)
    if name == "LITERAL":
        char = _literal_char(op, av)
        return frozenset([char]) if char is not None else None
    if name == "IN":
        chars: set[str] = set()
        for iop, iav in av:
            if str(iop) != "LITERAL" or iav >= 128:
                return None  # ranges, classes, negation: too wide to list
            chars.add(chr(iav).lower())
        return frozenset(chars) if len(chars) <= 8 else None
    if name == "SUBPATTERN":
        return _factors_seq(list(av[-1]))
    if name == "ATOMIC_GROUP":
        return _factors_seq(list(av))
    if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
        low, _high, item = av
        return _factors_seq(list(item)) if low >= 1 else None
    if name == "BRANCH":
        union: set[str] = set()
        for branch in av[1]:
            found = _factors_seq(list(branch))
            if not found:
                return None
            union |= found
            if len(union) > MAX_FACTORS:
                return None
        return frozenset(union)
    return None


def compile_crs(crs_dir: Path = CRS_DIR, setup: dict[str, Any] | None = None) -> dict[str, Any]:
    if not (crs_dir / "REQUEST-901-INITIALIZATION.conf").is_file():
        raise CompileError(f"{crs_dir}: no OWASP Core Rule Set here (apt-get install modsecurity-crs)")
    compiler = Compiler(crs_dir, {**DEFAULT_SETUP, **(setup or {})})
    return compiler.compile()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--crs", type=Path, default=CRS_DIR)
    parser.add_argument("--paranoia-level", type=int, default=1, choices=(1, 2, 3, 4))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    data = compile_crs(args.crs, {"paranoia_level": args.paranoia_level})
    text = json.dumps(data, indent=None)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    print(f"{len(data['rules'])} rules compiled, {len(data['unsupported'])} not supported:", file=sys.stderr)
    for item in data["unsupported"]:
        print(f"  {item['id']} ({item['file']}): {item['reason']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
