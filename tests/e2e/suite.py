"""The harness the end-to-end suites share: run every test_* function of a
module (those whose name holds FILTER), print PASS/SKIP/FAIL per test and
the closing line "LABEL: N passed, N failed, N skipped", and keep the work
directory only when something failed.

Usage from a suite:  sys.exit(suite.main("verify", globals(), setup, skips))
where the suite is run as  SUITE.py BUILD/flowaudit [FILTER].
"""
import os
import shutil
import sys
import tempfile
import traceback


def main(label, namespace, setup=None, skips=(), bind=None):
    """Runs the suite; returns its exit status.

    setup(binary, work) runs once before the tests; skips are the
    exception types that mean a skip; bind(binary, work) tells the suite
    where the binary and its work directory are (default: none)."""
    if len(sys.argv) < 2:
        print("usage: %s BUILD/flowaudit [FILTER]" % os.path.basename(sys.argv[0]),
              file=sys.stderr)
        return 2
    binary = os.path.abspath(sys.argv[1])
    flt = sys.argv[2] if len(sys.argv) > 2 else ""
    work = tempfile.mkdtemp(prefix="flowaudit-%s-" % label)
    if bind:
        bind(binary, work)
    passed = failed = skipped = 0
    try:
        if setup:
            setup(binary, work)
        tests = [(n, f) for n, f in sorted(namespace.items())
                 if n.startswith("test_") and callable(f) and flt in n]
        for name, fn in tests:
            try:
                fn()
                print("PASS %s" % name)
                passed += 1
            except tuple(skips) as e:
                print("SKIP %s: %s" % (name, e))
                skipped += 1
            except Exception:
                print("FAIL %s" % name)
                traceback.print_exc(limit=3, file=sys.stdout)
                failed += 1
    finally:
        if failed == 0:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print("%s work files kept in %s" % (label, work))
    print("%s: %d passed, %d failed, %d skipped" % (label, passed, failed, skipped))
    return 1 if failed else 0
