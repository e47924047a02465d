/*
 * seshfs unit tests for the guard rails: the command splitter, the policy's
 * parser and checks, and redaction (whole texts and streams split anywhere).
 */
#include <stdlib.h>
#include <string.h>

#include "../fs/guard/cmdline.h"
#include "../fs/guard/policy.h"
#include "../fs/guard/redact.h"
#include "unit.h"

/* ---- the splitter ---- */

struct words {
	char text[512];
	size_t len;
};

static void collect_word(void *ctx, const char *word, size_t len, bool checkable)
{
	struct words *w = ctx;

	if (w->len + len + 3 >= sizeof(w->text))
		return;
	memcpy(w->text + w->len, word, len);
	w->len += len;
	if (!checkable)
		w->text[w->len++] = '?';
	w->text[w->len++] = ' ';
	w->text[w->len] = '\0';
}

/*
 * The command words of input fed a line at a time, "?" after those not
 * checkable; input[0..len) may hold NUL bytes.
 */
static const char *split_in(enum cmdline_dialect dialect, const char *input, size_t len, int *failures)
{
	static struct words w;
	struct cmdline_state st;

	memset(&w, 0, sizeof(w));
	*failures = 0;
	cmdline_init(&st, dialect);
	for (const char *p = input, *end = input + len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t line = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
		*failures += cmdline_feed(&st, p, line, collect_word, &w) < 0;
		p += line;
	}
	return w.text;
}

static const char *split(const char *input, int *failures)
{
	return split_in(CMDLINE_BASH, input, strlen(input), failures);
}

static void test_cmdline(void)
{
	static const char *const cases[][2] = {
		{ "ls -l\n", "ls " },
		{ "a=1 b=\"x y\" c[2]=3 d+=4 ls | grep x && echo ok || rm -rf /\n", "ls grep echo rm " },
		{ "echo $(rm x) `id` \"$(who)\" <(tac) >(wc)\n", "echo rm id who tac wc " },
		{ "2>&1 echo hi >out 3<in; cat <in &>/dev/null; x &\n", "echo cat x " },
		{ "if true; then ls; elif a; then b; else pwd; fi\n", "true ls a b pwd " },
		{ "for x in rm id; do echo $x; done; select y in a; do z; done\n", "echo z " },
		{ "case $x in a|rm) ls;; (b) pwd;& c) id;;& esac; after\n", "ls pwd id after " },
		{ "f() { ls; }; g () { id; }; function h { who; }\n", "ls id who " },
		{ "cat <<EOF\nrm -rf /\nEOF\nls\n", "cat ls " },
		{ "cat <<-'E' | wc\n\tbody\n\tE\nls\n", "cat wc ls " },
		{ "cat <<A <<B\na\nA\nb\nB\nid\n", "cat id " },
		{ "echo 'a\nrm b'\nid\n", "echo id " },
		{ "echo \"a\n$(rm)\"\n", "echo rm " },
		{ "(( i++ )); [[ a && b || ( c ) ]] && x; ((y))\n", "x " },
		{ "arr=(1 2 $(id)) y\n", "id y " },
		{ "'rm' -rf; \"i\"d; \\ls\n", "rm id ls " },
		{ "$cmd x; ${x}y; l$(echo s)\n", "$cmd? y? echo l? " },
		{ "/bin/l? x; a*; [ -n x ]; x[1]\n", "/bin/l?? a*? [ x[1]? " },
		{ "time ! ls; { id; } > f\n", "ls id " },
		{ "ls # rm\n#id\n", "ls " },
		{ "echo ${x:-$(id)} $((1 + $(who) + $y)) $'\\x41'\n", "echo id who " },
		{ "ec\\\nho x; c\\\nat\n", "echo cat " },
		{ "ls&id&\nls |& wc\n", "ls id ls wc " },
		{ "while read x; do echo; done < f\n", "read echo " },
		{ "case x in\n(a) ls\n;;\nesac\nid\n", "ls id " },
		{ "{ls,cat} x; echo {a,b}\n", "{ls,cat}? echo " },
		{ "echo `echo \\`id\\``\n", "echo echo `...\\...`? `...\\...`? " },
		{ "x=$(ls) y; z=`id`\n", "ls y id " },
	};
	int failures;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = split(cases[i][0], &failures);
		CHECK(failures == 0);
		if (strcmp(got, cases[i][1]) != 0)
			fprintf(stderr, "split %zu: got \"%s\", want \"%s\"\n", i, got, cases[i][1]);
		CHECK(strcmp(got, cases[i][1]) == 0);
	}

	/* Deeper than it follows, or a heredoc delimiter longer than it keeps: failure, not a guess. */
	char deep[256] = "echo ";
	for (int i = 0; i < CMDLINE_DEPTH_MAX + 2; i++)
		strcat(deep, "$(");
	strcat(deep, "\n");
	split(deep, &failures);
	CHECK(failures > 0);
	char delim[CMDLINE_DELIM_MAX + 32] = "cat <<";
	memset(delim + 6, 'E', CMDLINE_DELIM_MAX);
	strcpy(delim + 6 + CMDLINE_DELIM_MAX, "\nid\n");
	split(delim, &failures);
	CHECK(failures > 0);

	/* The state is a plain struct: a copy checks without touching the original. */
	struct cmdline_state st, copy;
	struct words w = { 0 };
	cmdline_init(&st, CMDLINE_BASH);
	cmdline_feed(&st, "echo 'open\n", 11, collect_word, &w);
	copy = st;
	cmdline_feed(&copy, "still quoted'\n", 14, collect_word, &w);
	cmdline_feed(&copy, "id\n", 3, collect_word, &w);
	cmdline_feed(&st, "rm x'\n", 6, collect_word, &w);
	cmdline_feed(&st, "who\n", 4, collect_word, &w);
	CHECK(strcmp(w.text, "echo id who ") == 0);
}

/*
 * Each shell's grammar, as bash 5.2, busybox ash 1.35 and dash 0.5.12 run
 * these lines (touch is the command that must be seen): the words for bash,
 * ash, dash and an unknown sh.
 */
static void test_cmdline_dialects(void)
{
	static const char *const cases[][5] = {
		/* ]] ends a test with an operator right after it; in ash [[ is a builtin, in dash a command. */
		{ "[[ -n x ]]&& touch F\n", "touch ", "[[ touch ", "[[ touch ", "[[? touch " },
		{ "[[ -z x ]]|| touch F\n", "touch ", "[[ touch ", "[[ touch ", "[[? touch " },
		{ "[[ a || touch F ]]\n", "", "[[ ", "[[ touch ", "[[? touch " },
		{ "echo [[ a || touch F ]]; [[ b ]]\n", "echo touch ", "echo [[ ", "echo touch [[ ", "echo touch [[? " },
		/* for NAME do: no separator before do. */
		{ "echo() { for x do touch F; done; }; echo a\n", "touch echo ", "touch echo ", "touch echo ", "touch echo " },
		{ "for x in a do; do id; done\n", "id ", "id ", "id ", "id " },
		{ "for ((i = 0; i < 2; i++)) do id; done\n", "id ", "for ((...))? id ", "for ((...))? id ", "id " },
		/* bash: arithmetic only if the balanced ) has another after it; ash and dash: no (( command. */
		{ "echo $((touch F) )\n", "echo touch ", "echo ", "echo ", "echo $((...))? syntax error? " },
		{ "((touch F))\n", "", "touch ", "touch ", "((...))? touch " },
		{ "(( i++ )); echo $((i + 1)) $(( (1) ))\n", "echo ", "i++ echo ", "i++ echo ", "((...))? i++ echo " },
		{ "echo $(( 1 +\n 2 )); id\n", "echo $((...))? id ", "echo id ", "echo id ", "echo $((...))? id " },
		{ "((x #\n)); id\n", "((...))? x id ", "x id ", "x id ", "((...))? x id " },
		{ "echo $[ 1 ; touch F ]\n", "echo ", "echo touch ", "echo touch ", "echo $[...]? " },
		/* ' inside "${x:-...}": a quote in bash, a character in ash and dash; a quote in patterns everywhere. */
		{ "echo \"${x:-'}\" ; touch F ; echo \"'}\"\n", "echo ", "echo touch echo ", "echo touch echo ",
		  "echo \"${...'...}\"? " },
		{ "echo \"${x#'}\" ; touch F ; echo \"'}\"\n", "echo ", "echo ", "echo ", "echo " },
		{ "echo \"${x:-${y:-'}}\" ; touch F\n", "echo ", "echo touch ", "echo touch ", "echo \"${...'...}\"? " },
		{ "echo ${x:-'}'} \"${a[1]}\"; id\n", "echo id ", "echo id ", "echo id ", "echo id " },
		/* ${x@P} runs the $(...) in x's value. */
		{ "echo ${x@P} \"${y[0]@P}\" ${z@Q}\n", "echo ${...@P}? ${...@P}? ", "echo ", "echo ",
		  "echo ${...@P}? ${...@P}? " },
		/* dash has no $'...': there \' ends the quote. */
		{ "echo $'a\\' ; touch F ; echo '\nid\n", "echo id ", "echo id ", "echo touch echo ",
		  "echo $'...\\'? id " },
		/* &> is bash's and ash's; coproc, select and time are bash's reserved words. */
		{ "echo a &> x touch F\n", "echo ", "echo ", "echo touch ", "echo touch " },
		{ "coproc touch F; time -p touch G; select x do id; done\n", "touch F touch id ",
		  "coproc time select syntax error? ", "coproc time select syntax error? ",
		  "coproc touch F time touch select id " },
		{ "function f { id; }\n", "id ", "id ", "function syntax error? ", "function id " },
		/* A line bash cannot parse is thrown away, the next read as new: refused. */
		{ "echo a ) x '\ntouch F\n'\n", "echo syntax error? x ", "echo syntax error? x ", "echo syntax error? x ",
		  "echo syntax error? x " },
		{ "echo a ;; id\n", "echo syntax error? id ", "echo syntax error? id ", "echo syntax error? id ",
		  "echo syntax error? id " },
		/* A heredoc's body: bash joins backslash-newline before it looks for the delimiter. */
		{ "cat <<EOF\nE\\\nOF\ntouch F\n", "cat touch ", "cat ", "cat ", "cat <<... \\? touch " },
		{ "cat <<'EOF'\nE\\\nOF\nEOF\nid\n", "cat id ", "cat id ", "cat id ", "cat id " },
		{ "cat <<$(echo)\n$(echo)\ntouch F\n", "cat echo <<$(...)? echo ", "cat echo <<$(...)? echo ",
		  "cat echo <<$(...)? echo ", "cat echo <<$(...)? echo " },
		/* A heredoc's body, its delimiter unquoted, runs its $(...) and `...`. */
		{ "cat <<E\n$(touch F) `id`\n\\$(no) ${x:-$(who)}\nE\nls\n", "cat touch id who ls ", "cat touch id who ls ",
		  "cat touch id who ls ", "cat touch id who ls " },
		{ "cat <<'E'\n$(touch F)\nE\ncat <<$$\nx\n$$\nls\n", "cat cat ls ", "cat cat ls ", "cat cat ls ", "cat cat ls " },
		{ "echo `cat <<E` x\ntouch F\n", "echo cat << inside $(...)? ", "echo cat << inside $(...)? ",
		  "echo cat << inside $(...)? ", "echo cat << inside $(...)? " },
		/* What the shells cannot parse they drop with the rest of its line: refused. */
		{ ";'\n`touch F`\n", "syntax error? ", "syntax error? ", "syntax error? ", "syntax error? " },
		{ "esac<'\ntouch F'\n", "syntax error? ", "syntax error? ", "syntax error? ", "syntax error? " },
		{ "echo ${'} ; touch F\n", "echo syntax error? ", "echo syntax error? ", "echo syntax error? ",
		  "echo syntax error? " },
		{ "if true; then echo; fi; { echo; } ; (echo) ; echo & wait ; > f\n", "true echo echo echo echo wait ",
		  "true echo echo echo echo wait ", "true echo echo echo echo wait ", "true echo echo echo echo wait " },
		{ "case x in\na);;esac|touch F\n", "touch ", "touch ", "touch ", "touch " },
		{ "case n\nF\n", "syntax error? ", "syntax error? ", "syntax error? ", "syntax error? " },
		{ "o ${HOME+>(touch F)}\n", "o touch ", "o touch ", "o touch ", "o touch " },
		{ "x=(<\na= touch F\n", "syntax error? ", "syntax error? ", "syntax error? ", "syntax error? " },
		{ "time|p\\\ntouch F\n", "syntax error? ptouch ", "time ptouch ", "time ptouch ", "time syntax error? ptouch " },
		{ "select(\"\ntouch F\n", "syntax error? ", "select syntax error? ", "select syntax error? ",
		  "select syntax error? " },
		{ "\"${x-$'\\'}\";touch F\n", "", "? touch ", "? touch ", "\"${...$'...'}\"? \"${...'...}\"? ? touch " },
		/* A backquote ends backquoted text even inside quotes; bash reads x[...]= whole. */
		{ "`'`touch F\n", "syntax error?  touch? ", "syntax error?  touch? ", "syntax error?  touch? ",
		  "syntax error?  touch? " },
		{ "(x[&]= touch F)|u\n", "touch u ", "x[ ]= u ", "x[ ]= u ",
		  "x[...]=? touch u " },
		{ "function <<E\nl's'\n", "syntax error? ", "syntax error? ", "function ",
		  "function syntax error? " },
		{ "case x<\nls\n", "syntax error? syntax error? syntax error? ", "syntax error? syntax error? syntax error? ",
		  "syntax error? syntax error? syntax error? ", "syntax error? syntax error? syntax error? " },
		{ "case ;'\ntouch F\n", "syntax error? ", "syntax error? ", "syntax error? ", "syntax error? " },
		{ "><<'\ntouch F\n", "syntax error? ", "syntax error? ", "syntax error? ", "syntax error? " },
		{ "echo a >f 2>&1 >>g <h && cat > >(wc) <(ls)\n", "echo cat wc ls ", "echo cat wc ls ", "echo cat wc ls ",
		  "echo cat wc ls " },
		{ "()'\n`touch F`\n", "syntax error? ", "syntax error? ", "syntax error? ", "syntax error? " },
		{ "(echo\n) ; echo $()\n", "echo echo ", "echo echo ", "echo echo ", "echo echo " },
		/* bash expands inside a ' in (( )) too. */
		{ "(('`touch F`'''))\n", "touch ", "`touch F` ", "`touch F` ", "((...))? `touch F` " },
		/* Backquotes take a backslash from \` and \$ first: not followed. $$( opens nothing. */
		{ "o `\\`touch F\\``\n", "o `...\\...`? `touch `...\\...`? ", "o `...\\...`? `touch `...\\...`? ",
		  "o `...\\...`? `touch `...\\...`? ", "o `...\\...`? `touch `...\\...`? " },
		{ "\"$$(\\'$(touch F)\"\n", "touch $$(\\'? ", "touch $$(\\'? ", "touch $$(\\'? ", "touch $$(\\'? " },
		/* bash: ' in "${x-...}" ends at the next ', but what is between is expanded. */
		{ "o \"${x-'$(touch F)'}\"\n", "o touch ", "o touch ", "o touch ", "o \"${...'...}\"? touch " },
		/* More lines the shells drop: a word after a pattern, or after a compound command; {; bash's ]]. */
		{ "case t in\ns c|\ntou\\ch F\n", "syntax error? syntax error? syntax error? syntax error? ",
		  "syntax error? syntax error? syntax error? syntax error? ",
		  "syntax error? syntax error? syntax error? syntax error? ",
		  "syntax error? syntax error? syntax error? syntax error? " },
		{ "until(l)e|p\\\ntouch F\n", "l syntax error? e ptouch ", "l syntax error? e ptouch ",
		  "l syntax error? e ptouch ", "l syntax error? e ptouch " },
		{ "{;'\ntouch F\n", "syntax error? ", "syntax error? ", "syntax error? ", "syntax error? " },
		{ "]] '\ny=\"\\`\" touch F\n", "syntax error? ]] ", "]] ", "]] ", "syntax error? ]] " },
		{ "(a) { b; }; a | ! b; ! ;c\n", "a syntax error? b a syntax error? b c ",
		  "a syntax error? b a syntax error? b syntax error? c ", "a syntax error? b a syntax error? b syntax error? c ",
		  "a syntax error? b a syntax error? b syntax error? c " },
		/* ...but a word that closes may follow one, and newlines come before a pattern. */
		{ "if (a) then b; fi; if c; then if d; then (e) fi fi; [[ x ]] && f; case x in\n\n (g|h) ;;\n i) ;; esac\n",
		  "a b c d e f ", "a b c d e [[ f ", "a b c d e [[ f ", "a b c d e [[? f " },
		/* Unfinished in backquotes: busybox ash reads on into the text after them. */
		{ "o `{`t\"ouch\" F; o `a |`touch; o `a && b`\n", "o syntax error? o a syntax error? o a b ",
		  "o syntax error? o a syntax error? o a b ", "o syntax error? o a syntax error? o a b ",
		  "o syntax error? o a syntax error? o a b " },
		{ "(F)|[[ <(touch F)||'' ]]\n", "F touch ", "F [[ touch ", "F [[ touch  ", "F [[? touch  " },
		{ "coproc c { touch F;}\n", "c touch ", "coproc syntax error? ", "coproc syntax error? ", "coproc c touch " },
		{ "{touch,F}\n", "{touch,F}? ", "{touch,F} ", "{touch,F} ", "{touch,F}? " },
		/* ash and dash read quotes in $((...)) as characters. */
		{ "x=$((\")) | touch F\n", "$((...))? ", "touch ", "touch ", "$((...))? $((...'...))? " },
		/* The prompt runs the $(...) in PS1 (and bash PROMPT_COMMAND, PS0, MAILPATH's messages). */
		{ "PS1='$(touch F)' PROMPT_COMMAND+=(x) echo $PS1 \"${PS2}\"\n", "PS1? PROMPT_COMMAND? echo ",
		  "PS1? PROMPT_COMMAND? echo ", "PS1? PROMPT_COMMAND? echo ", "PS1? PROMPT_COMMAND? echo " },
		{ "read -r PS0; printf -vPS4 x; echo ${MAILPATH:=x} PS10\n", "read PS0? printf PS4? echo MAILPATH? ",
		  "read PS0? printf PS4? echo MAILPATH? ", "read PS0? printf PS4? echo MAILPATH? ",
		  "read PS0? printf PS4? echo MAILPATH? " },
	};
	static const enum cmdline_dialect dialects[] = { CMDLINE_BASH, CMDLINE_ASH, CMDLINE_DASH, CMDLINE_POSIX };
	int failures;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (size_t d = 0; d < 4; d++) {
			const char *got = split_in(dialects[d], cases[i][0], strlen(cases[i][0]), &failures);
			bool same = failures == 0 && strcmp(got, cases[i][d + 1]) == 0;
			if (!same)
				fprintf(stderr, "split %zu in %s: got \"%s\", want \"%s\"\n", i,
					cmdline_dialect_name(dialects[d]), got, cases[i][d + 1]);
			CHECK(same);
		}
	}

	/* NUL bytes are dropped, as the shells drop them: mk\0fs is mkfs, <<E\0OF ends at EOF. */
	static const char nul_input[] = "mk\0fs x\ncat <<E\0OF\nEO\0F\nto\0uch F\n";
	for (size_t d = 0; d < 4; d++) {
		const char *got = split_in(dialects[d], nul_input, sizeof(nul_input) - 1, &failures);
		CHECK(failures == 0 && strcmp(got, "mkfs cat touch ") == 0);
	}
}

/* ---- the policy ---- */

static struct policy *policy_of(const char *text, char err[POLICY_ERR_MAX])
{
	return policy_parse(text, strlen(text), "p", err);
}

static enum policy_verdict check(const struct policy *p, struct cmdline_state *st, enum policy_reader reader,
				 const char *text, struct policy_refusal *why)
{
	return policy_check(p, st, reader, text, strlen(text), why);
}

static void test_policy(void)
{
	static const char *const bad[][2] = {
		{ "allow ls\nforbid rm\n", "p:2: unknown rule 'forbid' (expected allow WORD..., deny REGEX or dangerous)" },
		{ "deny (x\n", "p:1: deny: missing closing parenthesis at offset 2" },
		{ "allow\n", "p:1: allow: expected one or more command names" },
		{ "deny   \n", "p:1: deny: expected a regular expression" },
		{ "dangerous now\n", "p:1: unknown rule 'dangerous' (expected allow WORD..., deny REGEX or dangerous)" },
		{ "# only\n\n", "p: no rules" },
		{ "allow \xff\n", "p:1: not valid UTF-8" },
	};
	char err[POLICY_ERR_MAX];
	struct policy_refusal why;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		CHECK(policy_of(bad[i][0], err) == NULL);
		if (strcmp(err, bad[i][1]) != 0)
			fprintf(stderr, "policy %zu: got \"%s\"\n", i, err);
		CHECK(strcmp(err, bad[i][1]) == 0);
	}

	struct policy *p = policy_of("# comment\n  allow ls echo\tcat \r\nallow true\ndeny secret\\.txt\ndangerous\n", err);
	struct cmdline_state st;
	CHECK(p != NULL);
	if (!p)
		return;
	cmdline_init(&st, CMDLINE_BASH);
	CHECK(check(p, &st, POLICY_SHELL_PROMPT, "ls; echo x | cat && true\n", &why) == POLICY_PASS);
	CHECK(check(p, &st, POLICY_SHELL_PROMPT, "ls\nid\n", &why) == POLICY_NOT_LISTED);
	CHECK(strcmp(why.rule, "allow (id is not listed)") == 0 && why.line_start == 3 && why.line_len == 2);
	CHECK(check(p, &st, POLICY_SHELL, "$x\n", &why) == POLICY_NOT_LISTED &&
	      strcmp(why.rule, "allow ($x is not a plain name)") == 0);
	/* A deny rule is the stronger refusal, on any line, for the shell or a program. */
	CHECK(check(p, &st, POLICY_SHELL_PROMPT, "id\necho secret.txt\n", &why) == POLICY_REFUSE);
	CHECK(strcmp(why.rule, "deny secret\\.txt") == 0 && why.line_start == 3);
	CHECK(check(p, &st, POLICY_PROGRAM, "id is data\n", &why) == POLICY_PASS);
	CHECK(check(p, &st, POLICY_PROGRAM, "cat secret.txt\n", &why) == POLICY_REFUSE);
	/* A refused or program's input leaves the syntax state alone; passed input moves it. */
	CHECK(check(p, &st, POLICY_SHELL_PROMPT, "echo 'open\n", &why) == POLICY_PASS);
	CHECK(check(p, &st, POLICY_PROGRAM, "x'\n", &why) == POLICY_PASS);
	CHECK(check(p, &st, POLICY_SHELL, "id'\n", &why) == POLICY_PASS);	/* closes the quote */
	CHECK(check(p, &st, POLICY_SHELL, "id\n", &why) == POLICY_NOT_LISTED);

	static const char *const dangerous[] = {
		"rm -rf /", "rm -fr ~", "rm -r -f *", "sudo rm -rf /*", "rm --recursive $HOME", "rm -rf \"/\"",
		"rm -rf --no-preserve-root /x", "mkfs.ext4 /dev/sdb1", "mke2fs /dev/sdb", "dd if=x of=/dev/nvme0n1",
		":(){ :|:& };:", "bomb(){ bomb|bomb& }; bomb", "shutdown -h now", "ls; reboot", "sudo halt",
		"systemctl poweroff", "chmod -R 777 /", "chmod 777 -R /", "echo x > /dev/sda", "cat x | tee /dev/sdb",
	};
	static const char *const harmless[] = {
		"rm -rf ./build", "rm -rf /tmp/x", "rm /", "rm -f ~/x", "echo rm -rf /tmp", "dd if=a of=/dev/null",
		"echo reboot", "chmod 777 /tmp/x", "chmod -R 755 /", "cat /dev/sda", "perform -r /",
	};
	for (size_t i = 0; i < sizeof(dangerous) / sizeof(dangerous[0]); i++) {
		char line[128];
		snprintf(line, sizeof(line), "%s\n", dangerous[i]);
		bool refused = check(p, &st, POLICY_SHELL_PROMPT, line, &why) == POLICY_REFUSE;
		if (!refused)
			fprintf(stderr, "dangerous not refused: %s\n", dangerous[i]);
		CHECK(refused && strncmp(why.rule, "dangerous (", 11) == 0);
	}
	for (size_t i = 0; i < sizeof(harmless) / sizeof(harmless[0]); i++) {
		char line[128];
		snprintf(line, sizeof(line), "%s\n", harmless[i]);
		bool passed = check(p, &st, POLICY_SHELL_PROMPT, line, &why) != POLICY_REFUSE;	/* not listed is fine */
		if (!passed)
			fprintf(stderr, "harmless refused by %s: %s\n", why.rule, harmless[i]);
		CHECK(passed);
	}
	policy_free(p);
}

/*
 * What the deny rules see of input: every policy refuses turning bash's
 * history expansion on; lines a backslash continues are matched joined,
 * NULs dropped; where a command may read first, every rest of a line.
 */
static void test_policy_input(void)
{
	static const char *const histexpand[] = {
		"set -H", "set -BH", "set -eH x", "set -o histexpand", "set -eo histexpand", "shopt -so histexpand",
		"shopt -s -o histexpand", "{ set -H; }", "if true; then set -o histexpand; fi", "set '-H'",
		"s'e't -H", "set -\\H", "set -o hist'exp'and", "builtin set -H",
	};
	static const char *const not_histexpand[] = {
		"set +H", "set -e", "set -o pipefail", "echo reset -H", "set -x; grep -H x f", "set -o history",
	};
	char err[POLICY_ERR_MAX];
	char line[128];
	struct policy_refusal why;
	struct cmdline_state st;
	struct policy *p = policy_of("allow echo ls cat head read sleep true printf grep set shopt builtin\n"
				     "dangerous\ndeny \\bcurl\\b\n", err);

	CHECK(p != NULL);
	if (!p)
		return;
	cmdline_init(&st, CMDLINE_BASH);
	for (size_t i = 0; i < sizeof(histexpand) / sizeof(histexpand[0]); i++) {
		snprintf(line, sizeof(line), "%s\n", histexpand[i]);
		bool refused = check(p, &st, POLICY_SHELL_PROMPT, line, &why) == POLICY_REFUSE &&
			       strcmp(why.rule, "histexpand (bash history expansion)") == 0;
		if (!refused)
			fprintf(stderr, "histexpand not refused: %s\n", histexpand[i]);
		CHECK(refused);
	}
	for (size_t i = 0; i < sizeof(not_histexpand) / sizeof(not_histexpand[0]); i++) {
		snprintf(line, sizeof(line), "%s\n", not_histexpand[i]);
		CHECK(check(p, &st, POLICY_SHELL_PROMPT, line, &why) == POLICY_PASS);
	}

	/* Where complete lines end: a backslash before the newline continues the line, NULs aside. */
	CHECK(policy_complete("ls \\\n", 5) == 0);
	CHECK(policy_complete("ls \\\\\n", 6) == 6);
	CHECK(policy_complete("a\nb \\\nc", 8) == 2);
	CHECK(policy_complete("x \\\0\n", 5) == 0);
	CHECK(policy_complete("x \\\n\n", 5) == 5);
	/* The logical line is what the deny rules match, ^ and $ at its ends; the physical lines too. */
	CHECK(check(p, &st, POLICY_SHELL_PROMPT, "cu\\\nrl --version\n", &why) == POLICY_REFUSE);
	CHECK(strcmp(why.rule, "deny \\bcurl\\b") == 0 && why.line_start == 0 && why.line_len == 16);
	CHECK(check(p, &st, POLICY_SHELL_PROMPT, "echo a\nrm -rf \\\n/\n", &why) == POLICY_REFUSE);
	CHECK(strncmp(why.rule, "dangerous (rm -r", 16) == 0 && why.line_start == 7 && why.line_len == 10);
	CHECK(policy_check(p, &st, POLICY_SHELL_PROMPT, "mk\0fs.ext2\n", 11, &why) == POLICY_REFUSE);
	CHECK(strcmp(why.rule, "dangerous (mkfs)") == 0);
	CHECK(check(p, &st, POLICY_SHELL_PROMPT, "echo cu \\\nrl\n", &why) == POLICY_PASS);
	/* A program may take the start of any line but the shell's first command: every rest is matched. */
	CHECK(check(p, &st, POLICY_PROGRAM, "abcdecurl x\n", &why) == POLICY_REFUSE);
	CHECK(strcmp(why.rule, "deny \\bcurl\\b") == 0);
	CHECK(check(p, &st, POLICY_SHELL_PROMPT, "echo abcdecurl x\n", &why) == POLICY_PASS);
	CHECK(check(p, &st, POLICY_SHELL, "echo abcdecurl x\n", &why) == POLICY_REFUSE);
	CHECK(check(p, &st, POLICY_SHELL_PROMPT, "read -n10 x\necho abcdecurl x\n", &why) == POLICY_REFUSE);
	CHECK(check(p, &st, POLICY_SHELL_PROMPT, "cat <<EOF\nwe reboot\nEOF\n", &why) == POLICY_PASS);
	CHECK(check(p, &st, POLICY_SHELL_PROMPT, "cat <<EOF\nwe reboot\nEOF\necho we reboot\n", &why) ==
	      POLICY_REFUSE);
	CHECK(strcmp(why.rule, "dangerous (shutdown)") == 0 && why.line_start == 24);
	policy_free(p);
}

/* ---- redaction ---- */

struct sunk {
	char data[8192];
	size_t len;
	size_t seen;	/* bytes passed on, kept or not */
};

static void sink(void *ctx, const char *data, size_t len)
{
	struct sunk *s = ctx;

	s->seen += len;
	if (s->len + len <= sizeof(s->data)) {
		memcpy(s->data + s->len, data, len);
		s->len += len;
	}
}

static struct redact_rules *rules_of(const char *text, char err[REDACT_ERR_MAX])
{
	return redact_parse(text, strlen(text), "r", err);
}

static bool redacts_to(const struct redact_rules *r, const char *in, const char *want)
{
	char *out;
	ssize_t len = redact_text(r, in, strlen(in), &out);
	bool same = len >= 0 && (size_t)len == strlen(want) && memcmp(out, want, (size_t)len) == 0;

	if (!same)
		fprintf(stderr, "redact \"%s\": got \"%s\"\n", in, len >= 0 ? out : "(failed)");
	if (len >= 0)
		free(out);
	return same;
}

static void test_redact(void)
{
	static const char *const bad[][2] = {
		{ "default\nfoo(\tX\n", "r:2: missing closing parenthesis at offset 4" },
		{ "no tab\n", "r:1: expected REGEX<TAB>REPLACEMENT or default" },
		{ "\tX\n", "r:1: empty pattern" },
		{ "(a)\t$2\n", "r:1: the replacement names $2, the pattern has 1 groups" },
		{ "# nothing\n", "r: no rules" },
	};
	char err[REDACT_ERR_MAX];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		CHECK(rules_of(bad[i][0], err) == NULL);
		if (strcmp(err, bad[i][1]) != 0)
			fprintf(stderr, "rules %zu: got \"%s\"\n", i, err);
		CHECK(strcmp(err, bad[i][1]) == 0);
	}

	struct redact_rules *r = rules_of("(user)=(\\w+)\t$1=<$2>\ncost \\$(\\d+)\t$$$1\nx*\t-\n", err);
	CHECK(r != NULL);
	if (r) {
		/*
		 * Each rule sees what the ones before left: x* matches the empty
		 * string everywhere but at the very end (the next text's start).
		 */
		CHECK(redacts_to(r, "user=bob cost $5", "-u-s-e-r-=-<-b-o-b->- -$-5"));
		redact_free(r);
	}
	r = rules_of("(user)=(\\w+)\t$1=<$2>\na\\nb\tNEVER\n^end$\tEND\n", err);
	CHECK(r != NULL);
	if (r) {
		/* A match never spans two lines; ^ and $ are the line's. */
		CHECK(redacts_to(r, "user=bob\na\nb\nend\nuser=\n", "user=<bob>\na\nb\nEND\nuser=\n"));
		/* Through escapes, groups as a terminal shows them. */
		CHECK(redacts_to(r, "\033[1muser\033[0m=bob\n\033[2mend\033[0m\n", "\033[1muser=<bob>\n\033[2mEND\033[0m\n"));
		redact_free(r);
	}

	r = rules_of("^ab\t\n", err);	/* an empty replacement, a whole text replaced by nothing */
	CHECK(r != NULL);
	if (r) {
		CHECK(redacts_to(r, "ab", ""));
		CHECK(redacts_to(r, "x\nab\nabc", "x\n\nc"));
		redact_free(r);
	}
		/* Rules that grow a text beyond bounds drop it (as when memory runs out), never pass it on. */
	r = rules_of("x*\tAAAAAAAAAAAAAAAA\nA\tAAAAAAAAAAAAAAAA\nA\tAAAAAAAAAAAAAAAA\n", err);
	CHECK(r != NULL);
	if (r) {
		struct redact_stream grow = { 0 };
		struct sunk out = { 0 };
		char line[1024];
		memset(line, 'y', sizeof(line) - 1);
		line[sizeof(line) - 1] = '\n';
		CHECK(redact_feed(r, &grow, line, sizeof(line), sink, &out) < 0 && out.seen == 0);
		redact_stream_free(&grow);
		redact_free(r);
	}
	/* Each rule within the bound, together beyond it: the bound is for all of them (3 x 3 x 3 > 4). */
	r = rules_of("b\tbbb\nb\tbbb\nb\tbbb\n", err);
	CHECK(r != NULL);
	if (r) {
		struct redact_stream grow = { 0 };
		struct sunk out = { 0 };
		static char line[16 * 1024];
		memset(line, 'b', sizeof(line) - 1);
		line[sizeof(line) - 1] = '\n';
		CHECK(redact_feed(r, &grow, line, sizeof(line), sink, &out) < 0 && out.seen == 0);
		redact_stream_free(&grow);
		redact_free(r);
	}
		r = redact_load("default", err);
	CHECK(r != NULL);
	if (!r)
		return;
	CHECK(strcmp(redact_source(r), "default") == 0);
	CHECK(redacts_to(r, "AKIAIOSFODNN7EXAMPLE x", "[REDACTED AWS KEY] x"));
	CHECK(redacts_to(r, "ghp_0123456789abcdefghijABCDEFGHIJ012345", "[REDACTED GITHUB TOKEN]"));
	CHECK(redacts_to(r, "github_pat_11ABCDEFG0123456789_abcdefghij", "[REDACTED GITHUB TOKEN]"));
	CHECK(redacts_to(r, "glpat-abcdefghij0123456789", "[REDACTED GITLAB TOKEN]"));
	CHECK(redacts_to(r, "xoxb-1234567890-abcdef", "[REDACTED SLACK TOKEN]"));
	CHECK(redacts_to(r, "sk-ant-api03-abcdefghij0123456789", "[REDACTED ANTHROPIC KEY]"));
	CHECK(redacts_to(r, "OPENAI=sk-proj-abcdefghij0123456789xyz", "OPENAI=[REDACTED OPENAI KEY]"));
	CHECK(redacts_to(r, "Authorization: Bearer abc.def", "Authorization: Bearer [REDACTED]"));
	CHECK(redacts_to(r, "DB_PASSWORD=\"hunter2\" secret: x token=y&z", "DB_PASSWORD=\"[REDACTED]\" secret: [REDACTED] token=[REDACTED]&z"));
	CHECK(redacts_to(r, "token=sk-ant-api03-abcdefghij0123456789", "token=[REDACTED ANTHROPIC KEY]"));
	CHECK(redacts_to(r, "task-abcdefghij0123456789abc mytoken=x passwords", "task-abcdefghij0123456789abc mytoken=x passwords"));
	CHECK(redacts_to(r, "a -----BEGIN RSA PRIVATE KEY-----\nMII\nQ==\n-----END RSA PRIVATE KEY----- b\nc\n",
			 "a [REDACTED PRIVATE KEY] b\nc\n"));
	CHECK(redacts_to(r, "\"-----BEGIN PRIVATE KEY-----\\nX\\n-----END PRIVATE KEY-----\\n\"",
			 "\"[REDACTED PRIVATE KEY]\\n\""));
	CHECK(redacts_to(r, "-----BEGIN EC PRIVATE KEY-----\nno end\nat all", "[REDACTED PRIVATE KEY]"));
	/* No pattern crosses bytes that are not UTF-8: such a block on one line is a block without END there. */
	CHECK(redacts_to(r, "-----BEGIN EC PRIVATE KEY-----\247MII-----END EC PRIVATE KEY----- x\nnext\n"
			 "-----END EC PRIVATE KEY----- after\n", "[REDACTED PRIVATE KEY] after\n"));

	/*
	 * Terminal escapes: a secret is matched as a terminal shows it too;
	 * the escapes inside a match go with it, those around it stay.
	 */
	CHECK(redacts_to(r, "\033[01;31m\033[KAKIAIOSFODNN7EXAMPLE\033[m\033[K\n",
			 "\033[01;31m\033[K[REDACTED AWS KEY]\033[m\033[K\n"));
	CHECK(redacts_to(r, "\033[32mghp_0123456789abcdefghijABCDEFGHIJ012345\033[0m",
			 "\033[32m[REDACTED GITHUB TOKEN]\033[0m"));
	CHECK(redacts_to(r, "\033[1mpassword=hunter2", "\033[1mpassword=[REDACTED]"));
	CHECK(redacts_to(r, "pass\033[1mword=hun\033[4mter2\033[m x", "pass\033[1mword=[REDACTED]\033[m x"));
	CHECK(redacts_to(r, "AKIA\033[1mIOSFODNN7EXAMPLE\033[m", "[REDACTED AWS KEY]\033[m"));
	CHECK(redacts_to(r, "\033]8;;http://h/\033\\AKIAIOSFODNN7EXAMPLE\033]8;;\033\\",
			 "\033]8;;http://h/\033\\[REDACTED AWS KEY]\033]8;;\033\\"));
	CHECK(redacts_to(r, "\033]0;title\007\033(B\033[mtoken=abc", "\033]0;title\007\033(B\033[mtoken=[REDACTED]"));
	/*
	 * As it is, an escape next to a secret is a word's edge: found there
	 * too, with the rest of the word a terminal shows (ESC g hides the g),
	 * or the AWS rule, which ran before, would see the key that the GitHub
	 * one left.
	 */
	CHECK(redacts_to(r, "AKIAIOSFODNN7EXAMPLE\033[0mx y", "[REDACTED AWS KEY] y"));
	CHECK(redacts_to(r, "AKIA\033[1mIOSFODNN7EXAMPLE\033github_pat_11ABCDEFG0123456789_abcdefghij y",
			 "[REDACTED GITHUB TOKEN] y"));
	/*
	 * A match in the text as it is never cuts a sequence: it stops where one
	 * starts, or where a string's contents end (not "[REDACTED];1m").
	 */
	CHECK(redacts_to(r, "token=abc\033[0;1m x", "token=[REDACTED]\033[0;1m x"));
	CHECK(redacts_to(r, "\033]8;;http://h/?token=abc\033\\link\033]8;;\033\\",
			 "\033]8;;http://h/?token=[REDACTED]\033\\link\033]8;;\033\\"));
	/*
	 * A sequence cut short right before a match (the lone ESC before BEL,
	 * the OSC that ESC ended) goes with it: "ESC [REDACTED]" would be a CSI.
	 */
	CHECK(redacts_to(r, "secret: \033]8;;h\033\a7 x", "secret: [REDACTED] x"));
	CHECK(redacts_to(r, "secret: [REDACTED] x", "secret: [REDACTED] x"));
	/* A match (or a key block) that starts inside a sequence (ESC - then "----B") takes all of it in. */
	CHECK(redacts_to(r, "x \033-----BEGIN RSA PRIVATE KEY-----MII-----END RSA PRIVATE KEY----- y",
			 "x [REDACTED PRIVATE KEY] y"));
	CHECK(redacts_to(r, "x \033-----BEGIN RSA PRIVATE KEY-----\nMII\n-----END RSA PRIVATE KEY-----\n",
			 "x [REDACTED PRIVATE KEY]\n"));
	/* A string without its end stops at the newline: a match still never spans two lines. */
	CHECK(redacts_to(r, "AKIAIOSFODNN\033]0;\n7EXAMPLE\n", "AKIAIOSFODNN\033]0;\n7EXAMPLE\n"));
	CHECK(redacts_to(r, "\033[1mplain\033[0m text\n", "\033[1mplain\033[0m text\n"));

	/* Line by line (history's lines): a key block over lines comes out as one replacement. */
	static const char *const lines[][2] = {
		{ "echo token=abc", "echo token=[REDACTED]\n" },
		{ "-----BEGIN PRIVATE KEY-----", "[REDACTED PRIVATE KEY]" },
		{ "MIIEvQIBADANBg", "" },
		{ "-----END PRIVATE KEY-----", "\n" },
		{ "ls", "ls\n" },
	};
	struct redact_stream by_line = { 0 };
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		char *got;
		ssize_t n = redact_line(r, &by_line, lines[i][0], strlen(lines[i][0]), &got);
		CHECK(n == (ssize_t)strlen(lines[i][1]) && memcmp(got, lines[i][1], (size_t)n) == 0);
		if (n >= 0)
			free(got);
	}
	redact_stream_free(&by_line);

	/* A stream split anywhere, in two writes or byte by byte, gives what the whole text gives. */
	const char *text = "key AKIAIOSFODNN7EXAMPLE\npassword=hunter2\n-----BEGIN OPENSSH PRIVATE KEY-----\n"
			   "b3Blbn\n-----END OPENSSH PRIVATE KEY-----\n\033[1mpass\033[mword=x\n"
			   "tail ghp_0123456789abcdefghijABCDEFGHIJ012345";
	const char *want = "key [REDACTED AWS KEY]\npassword=[REDACTED]\n[REDACTED PRIVATE KEY]\n"
			   "\033[1mpass\033[mword=[REDACTED]\ntail [REDACTED GITHUB TOKEN]";
	size_t len = strlen(text);
	bool all_same = true;
	for (size_t cut = 0; cut <= len; cut++) {
		struct redact_stream rs = { 0 };
		struct sunk out = { 0 };
		redact_feed(r, &rs, text, cut, sink, &out);
		redact_feed(r, &rs, text + cut, len - cut, sink, &out);
		redact_flush(r, &rs, true, sink, &out);
		all_same &= out.len == strlen(want) && memcmp(out.data, want, out.len) == 0;
		CHECK(rs.matches == 5);
		redact_stream_free(&rs);
	}
	CHECK(all_same);
	struct redact_stream rs = { 0 };
	struct sunk out = { 0 };
	for (size_t i = 0; i < len; i++)
		redact_feed(r, &rs, text + i, 1, sink, &out);
	CHECK(redact_held(&rs) > 0);	/* the last line: no newline yet */
	redact_flush(r, &rs, false, sink, &out);
	CHECK(out.len == strlen(want) && memcmp(out.data, want, out.len) == 0);
	redact_stream_free(&rs);

	/* A partial line waits at most REDACT_HOLD_MAX bytes; a block without END masks at most that. */
	char *big = malloc(REDACT_HOLD_MAX + 10);
	memset(big, 'x', REDACT_HOLD_MAX + 10);
	memset(&out, 0, sizeof(out));
	struct redact_stream held = { 0 };
	redact_feed(r, &held, big, REDACT_HOLD_MAX - 1, sink, &out);
	CHECK(redact_held(&held) == REDACT_HOLD_MAX - 1);
	redact_feed(r, &held, big, 1, sink, &out);
	CHECK(redact_held(&held) == 0);
	redact_stream_free(&held);
	memset(&out, 0, sizeof(out));
	const char *begin = "-----BEGIN PRIVATE KEY-----\n";
	redact_feed(r, &held, begin, strlen(begin), sink, &out);
	for (int i = 0; i < 3; i++) {
		big[REDACT_HOLD_MAX / 2] = '\n';
		redact_feed(r, &held, big, REDACT_HOLD_MAX / 2 + 1, sink, &out);
	}
	CHECK(!held.in_block && out.seen == strlen("[REDACTED PRIVATE KEY]") + REDACT_HOLD_MAX / 2 + 1);
	redact_stream_free(&held);
	free(big);
	redact_free(r);
}

void test_guard(void)
{
	test_cmdline();
	test_cmdline_dialects();
	test_policy();
	test_policy_input();
	test_redact();
}
