"""URLs as browsers read them, and the frontier's dedupe identity.

Every URL Harvester requests is parsed, joined and serialized as the WHATWG
URL Standard says (the `ada-url` parser): tabs and newlines removed, leading
and trailing C0 controls and spaces stripped (other Unicode spaces kept and
percent-encoded), backslashes read as slashes, hosts in IDNA ASCII form. A
string it rejects raises `InvalidURL`.

Most URLs of a crawl are already in that form, and most links are plain
paths (or `//host/path`): `parse()` and `Resolver` answer those without the
parser, and give exactly the parser's result (a test runs every WHATWG case
through both).

`canonicalize()` is the fingerprint's form: on top of the WHATWG form it
merges what RFC 3986 §6.2.2 calls equivalent (percent-encoding case,
unreserved characters decoded) and drops the fragment and sorts the query's
`&`-separated arguments. Nothing else is decoded, so URLs whose bytes differ
otherwise (`?q=caf%E9`, `?q=caf%E8`) stay apart.
"""

from __future__ import annotations

import codecs
import hashlib
import re
from urllib.parse import urlsplit

import ada_url

from harvester.exceptions import InvalidURL

# The URL Standard's own tables (what the parser does), not fetch policy: which schemes are
# fetched, and how, is the scheme registry's (harvester.schemes), whose ports agree with these.
DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21}  # the default ports the WHATWG parser drops
_SPECIAL = ("http:", "https:", "ftp:", "file:")  # special schemes whose query takes a page's charset

# Characters the WHATWG serializer leaves as they are, per component of an http(s) URL.
_PATH = r"[A-Za-z0-9\-._~!$&'()*+,;=:@%/]"
_QUERY = r"[A-Za-z0-9\-._~!$&()*+,;=:@%/?]"  # "'" is percent-encoded in a special URL's query
_FRAGMENT = r"[A-Za-z0-9\-._~!$&'()*+,;=:@%/?#]"
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_LABEL = r"(?!xn--)[a-z0-9-]+"  # punycode labels are checked by the parser
# An http(s) URL the parser would give back unchanged (its port and dot segments checked apart).
_ABSOLUTE = re.compile(
    rf"(https?)://(?:(?:{_OCTET}\.){{3}}{_OCTET}|(?:{_LABEL}\.)*(?!xn--)[a-z][a-z0-9-]*)"
    rf"(?::([1-9][0-9]{{0,4}}))?(/{_PATH}*)(?:\?{_QUERY}*)?(?:#{_FRAGMENT}*)?"
)
# A link made of a path (absolute, or relative without ":"), query and fragment in that form.
_REFERENCE = re.compile(
    rf"(/(?!/){_PATH}*|[A-Za-z0-9\-._~!$&'()*+,;=@%][A-Za-z0-9\-._~!$&'()*+,;=@%/]*)?"
    rf"(\?{_QUERY}*)?(#{_FRAGMENT}*)?"
)
_DOT_SEGMENT = re.compile(r"/(?:\.|%2[eE]){1,2}(?:/|$)")
_SINGLE_DOT = frozenset({".", "%2e"})
_DOUBLE_DOT = frozenset({"..", ".%2e", "%2e.", "%2e%2e"})


class ByteBoundedCache:
    """A dict of strings bounded by the characters it holds, oldest entries evicted first."""

    def __init__(self, budget: int, largest: int) -> None:
        self.budget = budget  # characters of keys and values together
        self.largest = largest  # an entry over this is never kept
        self.size = 0
        self._entries: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        return self._entries.get(key)

    def put(self, key: str, value: str) -> None:
        cost = len(key) + len(value)
        if cost > self.largest or key in self._entries:
            return
        self._entries[key] = value
        self.size += cost
        while self.size > self.budget:
            old = next(iter(self._entries))
            self.size -= len(old) + len(self._entries.pop(old))


_parsed = ByteBoundedCache(budget=4 << 20, largest=4096)


class _Last:
    """The string `parse()` or a `Resolver` gave last: a link taken, then requested, then
    fingerprinted is the same object each time, and is known parsed by identity alone."""

    href: str = ""


def parse(url: str) -> str:
    """The WHATWG serialization of the absolute URL `url`; `InvalidURL` when it does not parse."""
    if url is _Last.href:
        return url
    if _already_parsed(url):
        _Last.href = url
        return url
    href = _parsed.get(url)
    if href is None:
        href = parse_slow(url)
        _parsed.put(url, href)
    _Last.href = href
    return href


def parse_slow(url: str) -> str:
    """`parse()` by the WHATWG parser alone, for tests that hold the fast paths to it."""
    try:
        return _checked(ada_url.normalize_url(_scalar_values(url)))
    except ValueError:
        raise InvalidURL(f"invalid URL {_shown(url)}{_why(url)}", url) from None


_SCHEME_START = re.compile(r"[ \x00-\x1f]*[A-Za-z][A-Za-z0-9+.-]*:")


def _why(url: str) -> str:
    """What a user most often got wrong in an absolute URL that does not parse: the scheme."""
    return "" if _SCHEME_START.match(url) else ": no scheme (an absolute URL starts like https://)"


def without_fragment(url: str) -> str:
    """`url` (parsed) without its fragment: parsed still, and known to be by `parse()`."""
    bare = url.split("#", 1)[0]
    _Last.href = bare
    return bare


def join(base: str, reference: str) -> str:
    """`reference` resolved against `base` (as `new URL(reference, base)`)."""
    return Resolver(base)(reference)


class Resolver:
    """Resolves the links of one page against its base URL, as a browser does.

    On a page in a legacy charset (windows-1252, Shift_JIS, ...) the non-ASCII
    characters of a link's query are sent in that charset, as browsers do
    (the URL Standard's encoding override): `?q=café` is `?q=caf%E9`.
    """

    def __init__(self, base: str, encoding: str = "utf-8") -> None:
        self.base = parse(base)
        self.encoding = _legacy(encoding)
        self._fast = _ABSOLUTE.match(self.base) is not None
        if self._fast:  # an http(s) base: its origin, path and query, for the fast path
            path_start = self.base.index("/", self.base.index("//") + 2)
            rest = self.base[path_start:].split("#", 1)[0]
            self._scheme = self.base[: self.base.index(":") + 1]
            self._origin = self.base[:path_start]
            self._path, mark, query = rest.partition("?")
            self._query = mark + query
            self._directory = self._path[1:].split("/")[:-1]
            self._folder = self._path[: self._path.rindex("/") + 1]  # "/a/b/" of "/a/b/c": what a relative path extends

    def __call__(self, reference: str) -> str:
        found = self._fast_join(reference) if self._fast else None
        if found is None:
            found = join_slow(self.base, reference)
            if self.encoding is not None and not reference.isascii() and found.startswith(_SPECIAL):
                found = join_slow(self.base, _encode_query(_scalar_values(reference), self.encoding))
        _Last.href = found
        return found

    def _fast_join(self, reference: str) -> str | None:
        if reference[:4] == "http" and _already_parsed(reference):
            return reference if type(reference) is str else str(reference)  # not lxml's str subclass
        if reference[:2] == "//":  # scheme-relative: read as the base's scheme followed by it
            absolute = self._scheme + reference
            return absolute if _already_parsed(absolute) else None
        match = _REFERENCE.fullmatch(reference)
        if match is None or not reference:
            return None
        path, query, fragment = match.groups()
        if path is None:
            return self._origin + self._path + (self._query if query is None else query) + (fragment or "")
        if path[0] == "/":
            if "/." in path or "%2" in path:
                path = _remove_dot_segments(path[1:].split("/"))
        else:
            path = self._relative(path)
        return self._origin + path + (query or "") + (fragment or "")

    def _relative(self, path: str) -> str:
        """The absolute path of the relative `path` (no "/" first) on this base."""
        folder = self._folder
        if path[0] == ".":  # "../" and "./" first, then a plain path: what most relative links are
            ups = 0
            while path[:3] == "../":
                path, ups = path[3:], ups + 1
            while path[:2] == "./":
                path = path[2:]
            if not path or path[0] != "." and "%2" not in path and "/." not in path:
                for _ in range(ups):
                    if folder != "/":
                        folder = folder[: folder.rindex("/", 0, -1) + 1]
                return folder + path
            return _remove_dot_segments([*self._directory, *("../" * ups + path).split("/")])
        if "/." in path or "%2" in path:
            return _remove_dot_segments([*self._directory, *path.split("/")])
        return folder + path


def _legacy(encoding: str) -> str | None:
    """The codec a page's link queries are encoded in, when it is not UTF-8 (UTF-16/32 pages use UTF-8)."""
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        return None
    return None if name.startswith(("utf-8", "utf-16", "utf-32")) else name


def _encode_query(reference: str, encoding: str) -> str:
    """`reference` with the non-ASCII characters of its query percent-encoded in `encoding`."""
    head, mark, rest = reference.partition("?")
    if not mark or "#" in head:  # no query (a "?" in the fragment is not one)
        return reference
    query, hash_mark, fragment = rest.partition("#")
    return (
        head
        + mark
        + "".join(c if c.isascii() else _encode_character(c, encoding) for c in query)
        + hash_mark
        + fragment
    )


def _encode_character(character: str, encoding: str) -> str:
    try:
        return "".join(f"%{byte:02X}" for byte in character.encode(encoding))
    except UnicodeEncodeError:  # not in the charset: an HTML numeric reference, as the URL Standard says
        return f"%26%23{ord(character)}%3B"


def join_slow(base: str, reference: str) -> str:
    """`join()` by the WHATWG parser alone."""
    try:
        return _checked(ada_url.join_url(base, _scalar_values(reference)))
    except ValueError:
        raise InvalidURL(f"invalid URL {_shown(reference)} (relative to {_shown(base)})", reference) from None


def _checked(href: str) -> str:
    """`href`, once its punycode labels are known valid IDNA (ada-url does not decode them)."""
    authority = href.partition("//")[2].split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    if "xn--" in authority:
        for label in authority.rpartition("@")[2].rsplit(":", 1)[0].split("."):
            if label.startswith("xn--") and not _valid_punycode(label):
                raise ValueError(f"invalid IDNA label {label!r}")
    return href


def _valid_punycode(label: str) -> bool:
    """UTS 46: the label decodes to non-ASCII text that maps back to the same label."""
    try:
        decoded = label[4:].encode("ascii").decode("punycode")
        return not decoded.isascii() and ada_url.idna_to_ascii(decoded) == label.encode("ascii")
    except (UnicodeError, ValueError):
        return False


def _already_parsed(url: str) -> bool:
    match = _ABSOLUTE.fullmatch(url)
    if match is None:
        return False
    port = match.group(2)
    if port is not None and (int(port) > 65535 or int(port) == DEFAULT_PORTS[match.group(1)]):
        return False
    path = match.group(3)
    return ("/." not in path and "%2" not in path) or _DOT_SEGMENT.search(path) is None


def _remove_dot_segments(segments: list[str]) -> str:
    """The path of `segments` (a path's parts after its first "/"), as the WHATWG path state builds it."""
    out: list[str] = []
    last = len(segments) - 1
    for i, segment in enumerate(segments):
        if "." in segment or "%" in segment:
            lower = segment.lower()
            if lower in _DOUBLE_DOT:
                if out:
                    out.pop()
                if i == last:
                    out.append("")
                continue
            if lower in _SINGLE_DOT:
                if i == last:
                    out.append("")
                continue
        out.append(segment)
    return "/" + "/".join(out)


def _scalar_values(text: str) -> str:
    """`text` with lone surrogates replaced by U+FFFD, as a browser's USVString conversion does."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def _shown(url: str) -> str:
    return repr(url if len(url) <= 200 else url[:200] + "...")


# Fingerprints ----------------------------------------------------------------------------------

_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _escape(match: re.Match[str]) -> str:
    byte = int(match.group(1), 16)
    return chr(byte) if byte in _UNRESERVED else f"%{byte:02X}"


def canonicalize(url: str) -> str:
    """The fingerprint's form of `url`: its WHATWG form, escapes normalized, no fragment, query sorted."""
    head, mark, query = parse(url).split("#", 1)[0].partition("?")
    if "%" in head:
        head = _ESCAPE.sub(_escape, head)
    if "%" in query:
        query = _ESCAPE.sub(_escape, query)
    if "&" in query:
        query = "&".join(sorted(query.split("&")))
    return head + mark + query


def fingerprint(url: str, method: str = "GET", body: bytes = b"", user: str = "") -> str:
    """A stable hex digest naming one request for dedupe.

    `user` is the user name a request logs in with from its URL's `user@` (which
    `Request` keeps apart from the URL): another user may see another page. A
    password never enters the digest.
    """
    digest = hashlib.blake2b(digest_size=16)
    digest.update(method.upper().encode())
    digest.update(b" ")
    digest.update(canonicalize(url).encode())
    if user:
        digest.update(b"\nuser ")
        digest.update(user.encode("utf-8", "surrogatepass"))
    if body:
        digest.update(b"\n")
        digest.update(body)
    return digest.hexdigest()


# Hosts and origins -----------------------------------------------------------------------------

_hosts = ByteBoundedCache(budget=1 << 20, largest=1024)  # "scheme netloc" -> host[:port]
_hostnames = ByteBoundedCache(budget=1 << 20, largest=1024)  # netloc -> host name


def host_of(url: str) -> str:
    """`host` or `host:port` of a URL, as used for per-host politeness and auth."""
    scheme = url.partition(":")[0].lower()
    netloc = _netloc(url)
    key = f"{scheme} {netloc}"
    host = _hosts.get(key)
    if host is None:
        host = _host(scheme, netloc)
        _hosts.put(key, host)
    return host


def hostname_of(url: str) -> str:
    """The lower-case host name of a URL, without port or brackets."""
    netloc = _netloc(url)
    host = _hostnames.get(netloc)
    if host is None:
        host = (urlsplit(f"//{netloc}").hostname or "").lower()
        if not host.isascii():  # a URL not parsed yet
            host = ascii_domain(host)
        _hostnames.put(netloc, host)
    return host


def _netloc(url: str) -> str:
    return url.partition("://")[2].split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]


def _host(scheme: str, netloc: str) -> str:
    parts = urlsplit(f"{scheme}://{netloc}")
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is not None and port != DEFAULT_PORTS.get(scheme):
        return f"{host}:{port}"
    return host


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the default port filled in."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or DEFAULT_PORTS.get(scheme)


def domain_allowed(url: str, allowed_domains: list[str] | tuple[str, ...]) -> bool:
    """True when the URL's host is one of `allowed_domains` or a subdomain of one."""
    if not allowed_domains:
        return True
    exact, parents = _domains(allowed_domains if type(allowed_domains) is tuple else tuple(allowed_domains))
    host = hostname_of(url)
    return host in exact or host.endswith(parents)


_normalized: dict[tuple[str, ...], tuple[frozenset[str], tuple[str, ...]]] = {}


def _domains(allowed_domains: tuple[str, ...]) -> tuple[frozenset[str], tuple[str, ...]]:
    """`allowed_domains` as hosts hold them, and as the ".domain" endings of their subdomains."""
    found = _normalized.get(allowed_domains)
    if found is None:
        domains = [ascii_domain(domain) for domain in allowed_domains]
        found = frozenset(domains), tuple(f".{domain}" for domain in domains)
        if len(_normalized) >= 64:  # a spider that changes its allowed_domains as it goes
            _normalized.clear()
        _normalized[allowed_domains] = found
    return found


def ascii_domain(domain: str) -> str:
    """A domain as URLs hold it: lower case, no port, IDNA ASCII (`bücher.de` is `xn--bcher-kva.de`)."""
    domain = domain.lower().split(":")[0]
    if not domain.isascii():
        domain = ada_url.idna_to_ascii(domain).decode("ascii") or domain
    return domain
