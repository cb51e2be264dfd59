# Tallies the runner's TAP (programs separated by "=== NAME" lines, a
# non-zero exit by "=== exit N"): per program its ok and not-ok lines, which
# not-ok lines are expected (xfile lists `program | assertion | reason`, or
# `program | exit N | reason` for a program that fails by its exit status),
# and one summary line. Exits 1 if any program failed unexpectedly.
BEGIN {
    while ((getline line < xfile) > 0) {
        if (line ~ /^#/ || line ~ /^[ \t]*$/) continue
        split(line, f, / [|] /); known[f[1] "|" f[2]] = 1
    }
}
function report() {
    if (prog == "") return
    bad = notok - xfail
    # A program that prints no TAP at all (the *_fail ones) passes by its
    # exit status alone; one that does must not exit non-zero without a
    # "not ok" to show for it.
    if (exitc != "" && notok == 0 && !((prog "|exit " exitc) in known)) {
        bad++; why = (plan ? "" : " (no TAP)") " (exit " exitc ")"
    }
    printf "%-40s %4d ok %4d not ok (%d expected)%s%s\n", prog, ok, notok, xfail, (bad ? "  FAIL" : ""), why
    tok += ok; tnot += notok; tx += xfail; if (bad) { failed++; list = list " " prog }
}
/^=== exit / { exitc = $0; sub(/^=== exit /, "", exitc); next }
/^=== / { report(); prog = substr($0, 5); ok = notok = xfail = plan = 0; exitc = why = ""; n++; next }
/^ok / { ok++; next }
/^not ok / {
    notok++; d = $0; sub(/^not ok [0-9]+ - /, "", d)
    if ((prog "|" d) in known) xfail++; else if (!quiet) print "  " prog ": not ok - " d
    next
}
/^1\.\.[0-9]+/ { plan = 1; next }
END {
    report()
    printf "runtime-tools (%s): %d programs, %d ok, %d not ok (%d expected, listed in integration/runtime-tools/expected-failures), %d programs failed%s\n",
        runtime, n, tok, tnot, tx, failed, (failed ? ":" list : "")
    exit (failed ? 1 : 0)
}
