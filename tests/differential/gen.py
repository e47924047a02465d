"""Shell input for the differential test (run.py): random programs from a
grammar of the shell language, and mutations of the seed corpus.

Command names come from NAMES only, each of which is a logging stub in the
shells' chroot (or a builtin that runs nothing of its own), so that what
runs can be told from xtrace and the stubs' log. Loops always end (break,
false conditions), nothing reads the rest of the input (read -n: an open
problem the README names), and no builtin that runs its arguments as a
command (eval, exec, command, trap, .) appears: the splitter reports those
by their own name, not what they run.
"""
import random

ALLOWED = ("echo", "true", "printf", "cat", "ls")
FORBIDDEN = ("touch", "mkfs", "zz1", "zz2", "zz3")
NAMES = ALLOWED + FORBIDDEN
NAMES_BYTES = frozenset(n.encode() for n in NAMES)
ALLOWED_BYTES = frozenset(n.encode() for n in ALLOWED)
FUNCTIONS = ("f", "g", "echo", "zz2")
RESERVED = ("!", "time", "if", "then", "else", "elif", "fi", "for", "while", "until", "do", "done",
            "case", "esac", "select", "function", "in", "{", "}", "[[", "]]", "((", "))")
VARIABLES = ("x", "y", "HOME", "PWD", "1", "#", "@", "*", "?")
DELIMITERS = ("EOF", "E", "end", "x y")


class Generator:
    def __init__(self, rng: random.Random, dialect, seeds=()):
        self.rng = rng
        self.dialect = dialect
        self.seeds = list(seeds)
        self.heredocs = []	# bodies waiting for the end of the current line

    def chance(self, p):
        return self.rng.random() < p

    def pick(self, seq):
        return self.rng.choice(seq)

    # ---- words ----

    def name(self):
        """A command name from NAMES, sometimes quoted or escaped (what runs is the same)."""
        n = self.pick(FORBIDDEN if self.chance(0.6) else ALLOWED)
        r = self.rng.random()
        if r < 0.55:
            return n
        i = self.rng.randrange(1, len(n))
        forms = [f"'{n}'", f'"{n}"', f"{n[:i]}\\{n[i:]}", f"{n[:i]}''{n[i:]}", f'{n[:i]}""{n[i:]}',
                 f"\\{n}", f"{n[:i]}'{n[i:]}'", f"$'{n}'", f'{n[:i]}"{n[i:]}"', f"{n[:i]}\\\n{n[i:]}",
                 f"{{{n},}}", f"{n[:i]}{{{n[i:]},}}", f"{{,{n}}}", f"{n[:i]}{{{n[i:]}}}", f"$\"{n}\"",
                 f"{n}\t"]
        return self.pick(forms)

    def literal(self):
        return self.pick(["a", "b", "F", "-n", "x", "1", "--", "./F", "a.b", "=", "a=b", "%s", "F*", "?",
                          "[a]", "~", "-", "a,b", "{a,b}", "#", "!", "]]", "))", "esac", "in", "do",
                          "then", "fi", "done", "}", "{"] + list(NAMES))

    def expansion(self, depth):
        v = self.pick(VARIABLES)
        forms = [f"${v}", f"${{{v}}}", f"${{{v}:-{self.word(depth + 1, inner=True)}}}",
                 f"${{{v}#{self.literal()}}}", f"${{#{v}}}", f"${{{v}%%{self.literal()}}}",
                 f"${{{v}:+{self.word(depth + 1, inner=True)}}}", f"${{{v}-'}}'}}",
                 f"${{{v}:={self.word(depth + 1, inner=True)}}}", f"${{{v}?$({self.list(depth + 1)})}}",
                 f"$({self.list(depth + 1)})", f"`{self.list(depth + 1, backquote=True)}`",
                 f"$(({self.arith(depth + 1)}))", f"$( {self.list(depth + 1)} )"]
        if self.dialect == "bash":
            forms += [f"<({self.list(depth + 1)})", f">({self.list(depth + 1)})", f"${{{v}/a/b}}", f"${{{v}^^}}", f"${{{v}@Q}}",
                      f"$[{self.arith(depth + 1)}]"]
        return self.pick(forms)

    def arith(self, depth):
        parts = [self.pick(["1", "x", "y", "2+3", "x+=1", "(1)", "x?1:2", "0x1f", "1<<2", "x==1"])]
        if depth < 3 and self.chance(0.3):
            parts.append(f"$({self.list(depth + 1)})")
        if self.chance(0.2):
            parts.append(f"$(({self.arith(depth + 1)}))")
        return self.pick(["+", "*", " - ", ","]).join(parts)

    def dquoted(self, depth):
        inner = []
        for _ in range(self.rng.randrange(0, 4)):
            r = self.rng.random()
            if r < 0.35 and depth < 4:
                inner.append(self.expansion(depth + 1))
            elif r < 0.5:
                inner.append(self.pick(["\\\"", "\\$", "\\`", "\\\\", "'", "\\\n", "\\a", "}"]))
            else:
                inner.append(self.literal())
        return '"' + "".join(inner) + '"'

    def word(self, depth, inner=False):
        r = self.rng.random()
        if depth > 3 or r < 0.5:
            return self.literal()
        if r < 0.55:
            return f"'{self.pick(['a b', '$(zz1)', '`zz1`', 'a', chr(34), ''])}'"
        if r < 0.7:
            return self.dquoted(depth)
        if r < 0.78:
            return "$'" + self.pick(["a\\'b", "\\x41", "\\n", "zz1", "\\''", "\\\\"]) + "'"
        if r < 0.95:
            return self.expansion(depth)
        return self.literal() + self.word(depth + 1)

    def redirection(self, depth):
        target = self.pick(["F", "/dev/null", "out", self.word(depth + 1)])
        forms = [f">{target}", f"> {target}", "2>&1", f">>{target}", f"<{target}", "2>/dev/null",
                 f"<>{target}", f">|{target}", "1>&2", "3<&-", f"<<<{self.word(depth + 1)}"]
        if self.dialect == "bash":
            forms += [f"&>{target}", f"&>>{target}", f"<<<{self.word(depth + 1)}"]
        if self.chance(0.25):
            return self.heredoc(depth)
        return self.pick(forms)

    def heredoc(self, depth):
        delim = self.pick(DELIMITERS)
        strip = self.chance(0.3)
        quoted = self.rng.random()
        if quoted < 0.3:
            spelled = f"'{delim}'"
        elif quoted < 0.45:
            spelled = f'"{delim}"'
        elif quoted < 0.55:
            spelled = "\\" + delim
        else:
            spelled = delim
        if " " in delim and spelled == delim:
            spelled = f"'{delim}'"
        body = []
        for _ in range(self.rng.randrange(0, 2)):
            body.append(self.pick([self.simple(depth + 1), f"$({self.list(depth + 1)})", "`zz1`",
                                   delim + " ", "\t" + delim, self.dquoted(depth + 1), "EOF", "a\\"]))
        self.heredocs.append((body, delim, strip))
        return ("<<-" if strip else "<<") + self.pick(["", " "]) + spelled

    # ---- commands ----

    def simple(self, depth):
        parts = []
        while self.chance(0.15):
            parts.append(f"{self.pick(['x', 'y', 'a_1', 'x+'])}={self.word(depth + 1)}")
        if self.chance(0.08):
            parts.append(self.pick(["x=(a $(zz1) b)", "x[1]=a", "x[$(zz1)]=1"]))
        parts.append(self.name())
        for _ in range(self.rng.randrange(0, 3)):
            parts.append(self.redirection(depth) if self.chance(0.2) else self.word(depth + 1))
        return " ".join(parts)

    def odd(self, depth):
        """Places where the shells' grammars are easy to get wrong."""
        s = lambda: self.simple(depth + 1)  # noqa: E731
        forms = [
            lambda: f"{{ {s()};}}", lambda: f"{{{s()};}}", lambda: f"{s()}}}", lambda: f"{{ {s()} }}",
            lambda: f"! {s()}", lambda: f"time -p {s()}", lambda: f"then {s()}", lambda: f"do {s()}",
            lambda: f"fi; {s()}", lambda: f"in {s()}", lambda: f"esac {s()}",
            lambda: f"{s()} #{s()}", lambda: f"a#b; {s()}", lambda: f"echo a#b {s()}",
            lambda: f"(({s()}) )", lambda: f"echo $(({s()}) )", lambda: f"echo $( ({s()}) )",
            lambda: f"echo $(case x in x) {s()};; esac)", lambda: f"echo $(case x in (x) {s()};; esac)",
            lambda: f"echo $(echo ')'; {s()})", lambda: f"echo $(echo \\); {s()})",
            lambda: f"echo $(# a )\n{s()})", lambda: f"echo ${{x:-$({s()})}}",
            lambda: f'echo "${{x:-"$({s()})"}}"', lambda: f'echo ${{x#"$({s()})"}}',
            lambda: f"echo `echo \\`{s()}\\``", lambda: f"echo $(cat <<E\nE\n{s()})",
            lambda: f"x=( $({s()}) )", lambda: f"x=$({s()})", lambda: f"export x=$({s()})",
            lambda: f"echo ${{x:-'}}'}}; {s()}", lambda: f"echo \"${{x:-'}}\"; {s()}; echo \"'}}\"",
            lambda: f"case x in x) {s()};& y) {s()};; esac", lambda: f"case x in x|y) {s()};;& esac",
            lambda: f"case x in\n(x) {s()}\nesac", lambda: f"case x in x) ;; esac; {s()}",
            lambda: f"for x in a b c do; do {s()}; done", lambda: f"for x\ndo {s()}; done",
            lambda: f"while false\ndo {s()}\ndone; {s()}", lambda: f"if true\nthen {s()}\nfi",
            lambda: f"[[ -n x ]]&&{s()}", lambda: f"[[ x ]]{s()}", lambda: f"[[ ( x ) ]] && {s()}",
            lambda: f"[[ x == ']]' ]] && {s()}", lambda: f"[[ x =~ (a|b) ]] || {s()}",
            lambda: f"coproc c {{ {s()}; }}", lambda: f"function f() {{ {s()}; }}; f",
            lambda: f"f() {{ {s()}; }}; f", lambda: f"f()\n{{ {s()}; }}; f", lambda: f"f ( ) ( {s()} ); f",
            lambda: f"x=1 y=2 {s()}", lambda: f"x[0]=$({s()}) {s()}", lambda: f"{s()} <<<$({s()})",
            lambda: f"{s()} 2>&1 >/dev/null", lambda: f"{s()} >&- 2>&-", lambda: f"{s()}>F",
            lambda: f"1{s()}", lambda: f"2>F {s()}", lambda: f">F {s()}", lambda: f"<F {s()}",
            lambda: f"{s()}&&{s()}||{s()}", lambda: f"{s()};;{s()}", lambda: f"{s()}&;{s()}",
            lambda: f"{s()} \\\n| {s()}", lambda: f"{s()} |\n{s()}",
            lambda: f"{s()} &&\n{s()}", lambda: f"{s()} \\\n&& {s()}",
            lambda: f'echo "$(echo "$({s()})")"', lambda: f'echo "`{s()}`"', lambda: f"x=`{s()}`",
            lambda: f"echo ${{x:-`{s()}`}}", lambda: f"echo $(echo $(echo $({s()})))",
            lambda: f'echo "${{x:-"${{y:-$({s()})}}"}}"', lambda: f'echo ${{x:-"a}}"}} {s()}',
            lambda: f"{s()};\\\n{s()}", lambda: f"{s()} &\n{s()}", lambda: f"$'\\'' {s()}",
            lambda: f"echo $(( $({s()}) ))", lambda: f"(( $({s()}) ))", lambda: f"echo $[ $({s()}) ]",
            lambda: f"echo '${{x:-'$({s()})'}}'", lambda: f'echo "\\$({s()})"', lambda: f"echo \\$({s()})",
            lambda: f"function {s()}", lambda: f"{s()}() {{ :; }}", lambda: f"select x in a; do {s()}; done",
        ]
        return self.pick(forms)()

    def command(self, depth):
        r = self.rng.random()
        if r < 0.15:
            return self.odd(depth)
        if depth > 2 or r < 0.6:
            return self.simple(depth)
        body = lambda: self.list(depth + 1)  # noqa: E731
        forms = [
            lambda: f"{{ {body()}; }}",
            lambda: f"( {body()} )",
            lambda: f"({body()})",
            lambda: f"if {body()}; then {body()}; fi",
            lambda: f"if {body()}; then {body()}; elif {body()}; then {body()}; else {body()}; fi",
            lambda: f"for x in a {self.word(depth + 1)}; do {body()}; done",
            lambda: f"for x do {body()}; done",
            lambda: f"for x; do {body()}; done",
            lambda: f"for x in; do {body()}; done",
            lambda: f"while false; do {body()}; done",
            lambda: f"while {body()}; do {body()}; break; done",
            lambda: f"until {body()}; do {body()}; break; done",
            lambda: f"until true; do {body()}; done",
            lambda: f"case {self.word(depth + 1)} in a) {body()};; *) {body()};; esac",
            lambda: f"case a in (a|b) {body()} ;; esac",
            lambda: f"case x in\n{self.literal()}) {body()}\n;;\nesac",
            lambda: f"{self.pick(FUNCTIONS)}() {{ {body()}; }}; {self.pick(FUNCTIONS)}",
            lambda: f"{self.pick(FUNCTIONS)} () ( {body()} ); {self.pick(FUNCTIONS)}",
        ]
        if self.dialect == "bash":
            forms += [
                lambda: f"[[ {self.word(depth + 1)} {self.pick(['==', '=~', '<', '&&', '||', '-a'])} "
                        f"{self.word(depth + 1)} ]]",
                lambda: f"[[ -n x ]]{self.pick(['&&', '||', ';', '|', ''])} {self.simple(depth + 1)}",
                lambda: f"(( {self.arith(depth + 1)} ))",
                lambda: f"for (( i=0; i<1; i++ )); do {body()}; done",
                lambda: f"function {self.pick(FUNCTIONS)} {{ {body()}; }}; {self.pick(FUNCTIONS)}",
                lambda: f"select x in a; do {body()}; break; done <<<1",
                lambda: f"time {self.simple(depth + 1)}",
                lambda: f"coproc {self.simple(depth + 1)}",
            ]
        if self.dialect != "dash":
            forms.append(lambda: f"(( {self.arith(depth + 1)} ))")
            forms.append(lambda: f"(({self.simple(depth + 1)}))")
        return self.pick(forms)()

    def pipeline(self, depth):
        cmds = [self.command(depth)]
        while self.chance(0.15):
            cmds.append(self.command(depth))
        sep = self.pick([" | ", "|", " |& "] if self.dialect == "bash" else [" | ", "|"])
        text = sep.join(cmds)
        if self.chance(0.08):
            text = self.pick(["! ", "time "]) + text
        return text

    def list(self, depth, backquote=False):
        items = [self.pipeline(depth)]
        while self.chance(0.25):
            items.append(self.pick([" && ", " || ", "; ", " & ", "&&", "||", ";", "&"]))
            items.append(self.pipeline(depth))
        text = "".join(items)
        if backquote:
            text = text.replace("`", "\\`")
        return text

    def line(self):
        text = self.list(0)
        if self.chance(0.2):
            text += self.pick([" &", ";", " # zz1", "#x", " ;"])
        out = text + "\n"
        for body, delim, strip in self.heredocs:
            out += "".join(("\t" if strip and self.chance(0.5) else "") + b + "\n" for b in body)
            out += ("\t" if strip else "") + delim + "\n"
        self.heredocs = []
        return out

    # ---- odd bytes and mutations ----

    def disturb(self, data: bytes) -> bytes:
        """Backslash-newlines, NULs, reserved words and the like dropped in at random."""
        b = bytearray(data)
        for _ in range(self.rng.randrange(1, 4)):
            pos = self.rng.randrange(0, len(b) + 1)
            what = self.pick([b"\\\n", b"\0", b" ", b"\n", b";", b"'", b'"', b"`", b"$(", b")", b"(", b"{",
                              b"}", b"#", b"\\", b"&", b"|", b"<<E\n", b"\nE\n", b"$((", b"))",
                              self.pick(RESERVED).encode() + b" ", self.pick(NAMES).encode(),
                              b" " + self.pick(RESERVED).encode(), b"zz1", b"\t", b"\r", b"{", b",}"])
            if self.chance(0.3) and len(b) > 0:
                end = min(len(b), pos + self.rng.randrange(1, 4))
                b[pos:end] = what
            else:
                b[pos:pos] = what
        return bytes(b)

    def mutate(self, data: bytes) -> bytes:
        r = self.rng.random()
        if r < 0.2 and len(self.seeds) > 1:
            other = self.pick(self.seeds)
            cut = self.rng.randrange(0, len(data) + 1)
            return data[:cut] + other[self.rng.randrange(0, len(other) + 1):]
        if r < 0.35:
            for n in NAMES:
                if n.encode() in data and self.chance(0.5):
                    data = data.replace(n.encode(), self.pick(NAMES).encode(), 1)
            return data
        if r < 0.5:
            cut = self.rng.randrange(0, len(data) + 1)
            return data[:cut] + self.line().encode() + data[cut:]
        return self.disturb(data)

    def case(self) -> bytes:
        r = self.rng.random()
        if self.seeds and r < 0.3:
            data = self.pick(self.seeds)
            for _ in range(self.rng.randrange(1, 4)):
                data = self.mutate(data)
            return data
        data = "".join(self.line() for _ in range(self.rng.randrange(1, 3))).encode()
        if self.chance(0.3):
            data = self.disturb(data)
        return data
