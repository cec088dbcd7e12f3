"""deps-check.py ROOT PKG... - is every Python module and program the project uses installed
by `make deps`?

PKG... is the merged deps list (`make -s print-deps`: the top Makefile's APT_PKGS plus every
mk/*.mk and pipelines/*.mk fragment's `APT_PKGS +=`).  Collected from the project's files:
  - Python modules: every import of every *.py file (parsed with ast) and of the Python code
    inlined in shell, Bats and make files (py '...', "$PYTHON" -c '...');
  - programs: every command word of the shell code in *.sh, *.bash, *.bats, .ci/run, the
    recipes and $(shell ...) calls of Makefile, mk/*.mk and pipelines/*.mk, and
    subprocess calls in *.py files.
Each must be a shell builtin or keyword, a function or tool of the project, or be found on
this machine in a file that dpkg says belongs to a package in PKG..., in what those packages
depend on (Depends, Pre-Depends: what apt-get installs with them), or in an Essential
package (on every Debian system).  Anything else is reported with the file and line that
uses it, and the exit status is 1.  Standard library only, so it runs before anything is
installed."""
import ast
import os
import re
import shlex
import shutil
import subprocess
import sys
import importlib.util

ROOT = os.path.abspath(sys.argv[1])
LISTED = set(sys.argv[2:])
problems = []


def rel(p):
    return os.path.relpath(p, ROOT)


# --- the project's files ----------------------------------------------------------------------

def project_files():
    files = []
    for d, dirs, fs in os.walk(ROOT):
        dirs[:] = [x for x in dirs if x not in (".git", "build", "bin", "runs")]
        files += [rel(os.path.join(d, f)) for f in fs if ".tmp." not in f]
    skip = ("tests/fuzz/corpus/", "tests/fuzz/regress/", "docs/")
    return [os.path.join(ROOT, f) for f in sorted(files) if not f.startswith(skip)]


def kind(path):
    base = os.path.basename(path)
    if base.endswith(".py"):
        return "py"
    if base == "Makefile" or base.endswith(".mk"):
        return "make"
    if base.endswith((".sh", ".bash", ".bats")) or rel(path) == ".ci/run":
        return "sh"
    try:
        with open(path, "rb") as f:
            first = f.readline(200)
    except OSError:
        return None
    if first.startswith(b"#!") and re.search(rb"\b(ba)?sh\b", first):
        return "sh"
    if first.startswith(b"#!") and b"python" in first:
        return "py"
    return None


FILES = [(p, kind(p)) for p in project_files()]
FILES = [(p, k) for p, k in FILES if k]
LOCAL_PY = {os.path.basename(p)[:-3] for p, k in FILES if p.endswith(".py")}
TOOLS = {f[:-2] for f in os.listdir(os.path.join(ROOT, "tools")) if f.endswith(".c")}


# --- Python modules ---------------------------------------------------------------------------

modules = {}  # top-level module -> first "file:line" using it


def add_module(name, where):
    top = name.split(".")[0]
    if top and top not in LOCAL_PY:
        modules.setdefault(top, where)


IMPORT_RE = re.compile(r"(?:^|[;'\"(]|\s-c\s+['\"])\s*import\s+([A-Za-z_][\w.]*(?:\s+as\s+\w+)?"
                       r"(?:\s*,\s*[A-Za-z_][\w.]*(?:\s+as\s+\w+)?)*)")
FROM_RE = re.compile(r"(?:^|[;'\"(]|\s-c\s+['\"])\s*from\s+([A-Za-z_][\w.]*)\s+import\s")


def scan_inline_python(text, path):
    for i, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("#") or "sys.path.insert" in line:
            continue  # a comment; a module the test writes itself and puts on the path
        for m in IMPORT_RE.finditer(line):
            for part in m.group(1).split(","):
                add_module(part.split()[0], "%s:%d" % (rel(path), i))
        for m in FROM_RE.finditer(line):
            add_module(m.group(1), "%s:%d" % (rel(path), i))


# --- programs ---------------------------------------------------------------------------------

programs = {}  # command word -> first "file:line"
functions = set()
KEYWORDS = {"if", "then", "else", "elif", "fi", "for", "while", "until", "do", "done", "case",
            "esac", "in", "function", "select", "time", "!", "{", "}", "[[", "]]", "((", "))"}
# bats' own commands and what tests/helper.bash defines as shell functions is read from the files
BATS_WORDS = {"run", "skip", "load", "bats_require_minimum_version", "setup", "teardown",
              "setup_file", "teardown_file", "fail"}
# words that take a command after their options
PREFIX = {"exec", "command", "env", "timeout", "nice", "nohup", "xargs", "time", "run", "!",
          "stdbuf", "setsid"}
SEPARATORS = {"|", "||", "&&", ";", "&", "(", ")", "{", "}", "then", "do", "else", "elif", "if",
              "while", "until", "!", ";;", "|&"}


def builtins():
    out = subprocess.run(["bash", "-c", "compgen -b; compgen -k"], capture_output=True,
                         text=True).stdout.split()
    return set(out) | KEYWORDS | {"[", "."}


BUILTINS = builtins()


def add_program(word, where):
    programs.setdefault(word, where)


def shell_words(s, line0=1):
    """Split shell text into (word, line) pairs: words and operators, quoted strings kept whole
    (with their quotes), a newline as ";"."""
    words, i, n, line = [], 0, len(s), line0
    cur, cur_line = "", line0

    def flush():
        nonlocal cur
        if cur:
            words.append((cur, cur_line))
            cur = ""
    while i < n:
        c = s[i]
        if not cur:
            cur_line = line
        if c in " \t\n":
            flush()
            if c == "\n":
                words.append((";", line))
                line += 1
            i += 1
        elif c == "#" and not cur:
            while i < n and s[i] != "\n":
                i += 1
        elif c == "\\" and i + 1 < n:
            if s[i + 1] == "\n":
                line += 1
                flush()
            else:
                cur += s[i:i + 2]
            i += 2
        elif c in "'\"`":
            j = i + 1
            while j < n and s[j] != c:
                j += 2 if s[j] == "\\" and c != "'" else 1
            cur += s[i:j + 1]
            line += s[i:j + 1].count("\n")
            i = j + 1
        elif c == "$" and i + 1 < n and s[i + 1] in "({":
            close = ")" if s[i + 1] == "(" else "}"
            depth, j = 0, i + 1
            while j < n:
                if s[j] == s[i + 1]:
                    depth += 1
                elif s[j] == close:
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            cur += s[i:j + 1]
            line += s[i:j + 1].count("\n")
            i = j + 1
        elif c == "(" and s[i:i + 2] == "((" and not cur:  # arithmetic: not commands
            depth, j = 0, i
            while j < n:
                depth += {"(": 1, ")": -1}.get(s[j], 0)
                if depth == 0:
                    break
                j += 1
            words.append(("((arith))", line))
            i = j + 1
        elif c in "|&;()":
            flush()
            op = s[i:i + 2] if s[i:i + 2] in ("||", "&&", ";;", "|&") else c
            words.append((op, line))
            i += len(op)
        elif c in "<>":
            if cur.isdigit() or cur in ("&",):
                cur = ""
            flush()
            j = i + 1
            while j < n and s[j] in "<>&=":
                j += 1
            if s[i:j] == "<<":  # here-document: skip its body
                m = re.match(r"\s*-?\s*['\"]?(\w+)['\"]?", s[j:])
                if m:
                    end = re.search(r"\n\s*" + m.group(1) + r"\s*(\n|$)", s[j:])
                    if end:
                        body = s[j:j + end.end()]
                        # the rest of the here-doc's first line is still shell
                        first_nl = body.index("\n") if "\n" in body else len(body)
                        rest = s[j + m.end():j + first_nl]
                        words.extend(shell_words(rest, line))
                        words.append((";", line))
                        line += body.count("\n")
                        i = j + end.end()
                        continue
            while j < n and s[j] in " \t":
                j += 1
            k = j
            while k < n and s[k] not in " \t\n;|&)":
                if s[k] in "'\"":
                    q = s.index(s[k], k + 1) if s[k] in s[k + 1:] else n - 1
                    k = q
                k += 1
            i = k
        else:
            cur += c
            i += 1
    flush()
    return words


def nested_code(word):
    """Shell code inside a word: $(...) and `...` anywhere (in "..." strings too)."""
    out = []
    for m in re.finditer(r"\$\(", word):
        depth, j = 0, m.start() + 1
        while j < len(word):
            if word[j] == "(":
                depth += 1
            elif word[j] == ")":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        inner = word[m.start() + 2:j]
        if not inner.startswith("("):  # $((arithmetic))
            out.append(inner)
    if not word.startswith("'"):
        out += re.findall(r"`([^`]*)`", word)
    return out


def unquote(w):
    try:
        parts = shlex.split(w)
    except ValueError:
        return w
    return parts[0] if len(parts) == 1 else w


def scan_shell(text, path, makevars=None, line0=1):
    for m in re.finditer(r"(?m)^\s*(?:function\s+)?([A-Za-z_][\w-]*)\s*\(\)", text):
        functions.add(m.group(1))
    scan_words(shell_words(text, line0), path, makevars)


def scan_words(words, path, makevars):
    expect, skip_opts = True, None
    case = []  # per open case: "head" (before in), "pattern" or "body"
    for k, (w, line) in enumerate(words):
        if case and case[-1] in ("head", "pattern"):
            if case[-1] == "head" and w == "in":
                case[-1] = "pattern"
            elif case[-1] == "pattern" and w == ")":
                case[-1] = "body"
                expect = True
            elif case[-1] == "pattern" and unquote(w) == "esac":
                case.pop()
            continue
        if w == ";;" and case:
            case[-1] = "pattern"
            continue
        if expect and unquote(w) == "case":
            case.append("head")
            continue
        if expect and unquote(w) == "esac" and case:
            case.pop()
            continue
        if not w.startswith("'"):
            for code in nested_code(w):
                scan_words(shell_words(code, line), path, makevars)
        if w in SEPARATORS:
            expect, skip_opts = True, None
            continue
        if not expect:
            continue
        if re.match(r"^[A-Za-z_]\w*(\[[^]]*\])?\+?=", w):  # an assignment before the command
            continue
        word = unquote(w)
        if skip_opts:
            if skip_opts == "env-u":
                skip_opts = "env"
                continue
            if word.startswith("-"):
                if skip_opts == "env" and word in ("-u", "--unset"):
                    skip_opts = "env-u"
                continue
            if skip_opts == "timeout" and re.match(r"^[\d.]+[smhd]?$", word):
                continue
            if skip_opts == "env" and "=" in word:
                continue
        if word in PREFIX:
            skip_opts = word
            if word == "command":
                expect = False  # command -v X only asks
            continue
        expect, skip_opts = False, None
        if makevars is not None:
            word = expand_make(word, makevars)
        add_program_word(word, "%s:%d" % (rel(path), line))
        # bash -c / sh -c "code": the string is shell code too
        if word in ("bash", "sh") and k + 2 < len(words) and words[k + 1][0] == "-c":
            code, cl = words[k + 2]
            if code[:1] in "'\"" and code[-1:] == code[:1]:
                code = code[1:-1]
            scan_words(shell_words(code, cl), path, makevars)


def add_program_word(word, where):
    if not word or word[0] in "$'\"`-(" or "$" in word or "=" in word:
        return  # a variable, a string, an option: nothing the scan can name
    if "/" in word:
        if os.path.isabs(word) and not word.startswith(("/tmp", "/dev")):
            add_program(word, where)
        return  # a path inside the project
    if not re.match(r"^[\w.+-]+$", word) or word.isdigit():
        return
    add_program(word, where)


def expand_make(word, makevars):
    def sub(m):
        return makevars.get(m.group(1) or m.group(2), m.group(0))
    for _ in range(5):
        new = re.sub(r"\$\((\w+)\)|\$\{(\w+)\}", sub, word)
        if new == word:
            break
        word = new
    return word.split()[0] if word.split() else word


# --- make -------------------------------------------------------------------------------------

def make_vars():
    out = subprocess.run(["make", "-C", ROOT, "-pn", "print-deps"], capture_output=True,
                         text=True, env=dict(os.environ, MAKEFLAGS="", MAKELEVEL="")).stdout
    v = {}
    for line in out.splitlines():
        m = re.match(r"^(\w+) :?= (.*)$", line)
        if m:
            v.setdefault(m.group(1), m.group(2))
    return v


MAKEVARS = make_vars()


MAKE_FUNCS = {"abspath", "addprefix", "addsuffix", "and", "basename", "call", "dir", "error",
              "eval", "filter", "filter-out", "findstring", "firstword", "foreach", "if", "info",
              "join", "lastword", "notdir", "or", "origin", "patsubst", "realpath", "shell", "sort",
              "strip", "subst", "suffix", "value", "warning", "wildcard", "word", "wordlist",
              "words"}


def make_refs(body):
    """A recipe line as the shell sees it: make variables expanded where known (so $(CC) is
    cc), other make references and functions made into a $-word, $$ made $."""
    out, i = "", 0
    while i < len(body):
        m = re.compile(r"(\$+)([({])").match(body, i) if body[i] == "$" else None
        if not m:
            out += body[i]
            i += 1
            continue
        depth, j = 0, m.end() - 1
        while j < len(body):
            depth += {"(": 1, "{": 1, ")": -1, "}": -1}.get(body[j], 0)
            if depth == 0:
                break
            j += 1
        inner = body[m.end():j]
        name = re.split(r"[ ,]", inner, 1)[0]
        if name in MAKE_FUNCS or "$" in name or re.match(r"^[A-Z0-9_@<^*?%]+$", name) \
                or name in MAKEVARS:
            val = MAKEVARS.get(name)
            if val is not None and name == inner:
                out += make_refs(val) if "$" in val else val
            else:
                out += "$MAKEREF"
        elif m.group(2) == "{":  # $${VAR}: a shell variable
            out += "${" + inner + "}"
        else:  # $$(cmd ...): the shell's command substitution
            out += "$(" + make_refs(inner) + ")"
        i = j + 1
    while "$$" in out:
        out = out.replace("$$", "$")
    return out


def scan_make(text, path):
    lines = text.split("\n")
    for i, ln in enumerate(lines, 1):
        for m in re.finditer(r"\$\(shell\s+(.*)", ln):
            depth, j, t = 1, 0, m.group(1)
            while j < len(t) and depth:
                depth += {"(": 1, ")": -1}.get(t[j], 0)
                j += 1
            scan_shell(make_refs(t[:j - 1]), path, MAKEVARS, i)
    i = 0
    while i < len(lines):
        start, body = i + 1, lines[i]
        while body.endswith("\\") and i + 1 < len(lines):
            i += 1
            body = body[:-1] + " " + lines[i].lstrip("\t")
        if body.startswith("\t"):  # a recipe line
            body = make_refs(body.lstrip("\t").lstrip("@-+"))
            scan_shell(body, path, MAKEVARS, start)
            scan_inline_python(body, path)
        i += 1


# --- scan everything ----------------------------------------------------------------------------

for path, k in FILES:
    try:
        text = open(path, encoding="utf-8", errors="replace").read()
    except OSError:
        continue
    if k == "py":
        try:
            tree = ast.parse(text, path)
        except SyntaxError as e:
            problems.append("%s: cannot parse: %s" % (rel(path), e))
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    add_module(a.name, "%s:%d" % (rel(path), node.lineno))
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                add_module(node.module, "%s:%d" % (rel(path), node.lineno))
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                    isinstance(node.func.value, ast.Name) and node.func.value.id == "subprocess" \
                    and node.args:
                a = node.args[0]
                first = a.elts[0] if isinstance(a, (ast.List, ast.Tuple)) and a.elts else a
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    add_program_word(first.value.split()[0], "%s:%d" % (rel(path), node.lineno))
    elif k == "sh":
        scan_shell(text, path)
        scan_inline_python(text, path)
    elif k == "make":
        scan_make(text, path)

# make check runs bats, with $(PYTHON) as the tests' Python.
for extra in ("bats", "make", MAKEVARS.get("PYTHON", "python3")):
    add_program(extra, "Makefile")


# --- packages ---------------------------------------------------------------------------------

def installed():
    out = subprocess.run(["dpkg-query", "-W", "-f",
                          "${Package}\t${Status}\t${Essential}\t${Provides}\t${Depends}\t"
                          "${Pre-Depends}\n"], capture_output=True, text=True).stdout
    pk = {}
    for line in out.splitlines():
        f = line.split("\t")
        if len(f) < 6 or not f[1].endswith(" installed"):
            continue
        pk[f[0]] = f
    return pk


PKG = installed()
PROVIDERS = {}
for name, f in PKG.items():
    PROVIDERS.setdefault(name, set()).add(name)
    for p in f[3].split(","):
        p = p.strip().split(" ")[0]
        if p:
            PROVIDERS.setdefault(p, set()).add(name)


def closure(roots):
    seen, todo = set(), list(roots)
    while todo:
        p = todo.pop()
        for real in PROVIDERS.get(p.split(":")[0], ()):
            if real in seen:
                continue
            seen.add(real)
            f = PKG[real]
            for dep in (f[4] + "," + f[5]).split(","):
                for alt in dep.split("|"):
                    alt = alt.strip().split(" ")[0].split(":")[0]
                    if alt and alt in PROVIDERS:
                        todo.append(alt)
    return seen


missing_listed = sorted(p for p in LISTED if p not in PROVIDERS)
for p in missing_listed:
    problems.append("deps list: %s is not installed (run make deps)" % p)
ESSENTIAL = {n for n, f in PKG.items() if f[2] == "yes"}
# apt is what `make deps` installs with: there before anything else.
ALLOWED = closure(LISTED) | closure(ESSENTIAL) | closure({"apt"})

_owner_cache = {}


def owner(path):
    """The package owning a file (tries the usr-merged twin of the path too), or None."""
    cands = [path, os.path.realpath(path)]
    for c in list(cands):
        for a, b in (("/usr/bin/", "/bin/"), ("/usr/sbin/", "/sbin/"), ("/usr/lib/", "/lib/")):
            if c.startswith(a):
                cands.append(b + c[len(a):])
            elif c.startswith(b):
                cands.append(a + c[len(b):])
    for c in cands:
        if c in _owner_cache:
            return _owner_cache[c]
        r = subprocess.run(["dpkg", "-S", c], capture_output=True, text=True)
        if r.returncode == 0:
            pk = r.stdout.splitlines()[0].split(":")[0].split(",")[0].strip()
            if pk.startswith("diversion by"):
                continue
            _owner_cache[c] = pk
            return pk
    return None


def check_file(what, path, where):
    pk = owner(path)
    if pk is None:
        problems.append("%s (%s, used at %s) belongs to no Debian package: installed by hand?"
                        % (what, path, where))
    elif pk not in ALLOWED:
        problems.append("%s (%s, used at %s) comes from package %s, which is not in the deps list "
                        "(add APT_PKGS += %s)" % (what, path, where, pk, pk))


for word, where in sorted(programs.items()):
    if word in BUILTINS or word in functions or word in TOOLS or word in BATS_WORDS:
        continue
    path = word if os.path.isabs(word) else shutil.which(word)
    if not path:
        problems.append("program %s (used at %s) is not installed: add its package to the deps "
                        "list" % (word, where))
        continue
    check_file("program " + word, path, where)

for mod, where in sorted(modules.items()):
    if mod in sys.builtin_module_names:
        continue
    try:
        spec = importlib.util.find_spec(mod)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        problems.append("Python module %s (imported at %s) is not installed: add its package "
                        "(e.g. python3-%s) to the deps list" % (mod, where, mod.lower()))
        continue
    origin = spec.origin if spec.origin not in (None, "built-in", "frozen") else None
    if origin is None and spec.submodule_search_locations:
        origin = os.path.join(list(spec.submodule_search_locations)[0], "__init__.py")
    if origin:
        check_file("Python module " + mod, origin, where)

if os.environ.get("DEPS_CHECK_VERBOSE"):
    print("programs:", " ".join(sorted(programs)))
    print("modules:", " ".join(sorted(modules)))
for p in problems:
    print("deps-check: " + p)
print("deps-check: %d programs, %d Python modules, %d packages listed; %d problems"
      % (len(programs), len(modules), len(LISTED), len(problems)))
sys.exit(1 if problems else 0)
