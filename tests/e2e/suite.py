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
import time
import traceback


def in_file_order(namespace):
    """A sort key: tests in the order they stand in their file, so that a
    failure's output reads top to bottom."""
    def key(name):
        code = getattr(namespace.get(name), "__code__", None)
        return code.co_firstlineno if code else 0
    return key


def main(label, namespace, setup=None, skips=(), bind=None, order=None, before_each=None,
         after_each=None):
    """Runs the suite; returns its exit status.

    setup(binary, work) runs once before the tests; skips are the
    exception types that mean a skip; bind(binary, work) tells the suite
    where the binary and its work directory are (default: none); order is
    a sort key on test names (default: by name); before_each() runs before
    each test, after_each() after each test that passed, and may raise to
    fail it."""
    if len(sys.argv) < 2:
        print("usage: %s BUILD/flowaudit [FILTER]" % os.path.basename(sys.argv[0]),
              file=sys.stderr)
        return 2
    binary = os.path.abspath(sys.argv[1])
    flt = sys.argv[2] if len(sys.argv) > 2 else ""
    work = tempfile.mkdtemp(prefix="flowaudit-%s-" % label)
    t_start = time.monotonic()
    if bind:
        bind(binary, work)
    passed = failed = skipped = 0
    try:
        if setup:
            setup(binary, work)
        names = sorted((n for n, f in namespace.items() if n.startswith("test_") and callable(f)
                        and flt in n), key=order)
        for name in names:
            t = time.monotonic()
            if before_each:
                before_each()
            try:
                namespace[name]()
                if after_each:
                    after_each()
                print("PASS %s (%.1f s)" % (name, time.monotonic() - t))
                passed += 1
            except tuple(skips) as e:
                print("SKIP %s: %s" % (name, e))
                skipped += 1
            except Exception:
                print("FAIL %s (%.1f s)" % (name, time.monotonic() - t))
                traceback.print_exc(limit=4, file=sys.stdout)
                failed += 1
            sys.stdout.flush()
    finally:
        if failed == 0:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print("%s work files kept in %s" % (label, work))
    print("%s suite took %.0f s" % (label, time.monotonic() - t_start))
    print("%s: %d passed, %d failed, %d skipped" % (label, passed, failed, skipped))
    return 1 if failed else 0
