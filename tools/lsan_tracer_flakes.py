#!/usr/bin/env python3
"""Which failed tests of a ctest run failed only because LeakSanitizer's own tracer crashed.

Usage: tools/lsan_tracer_flakes.py JUNIT.xml  (the file of `ctest --output-junit`)

LeakSanitizer stops the process's threads at exit with a tracer thread, which sometimes
segfaults ("Tracer caught signal 11" then "LeakSanitizer has encountered a fatal error"): a
known flake of the sanitizer runtime (google/sanitizers#1353) that reports no leak and says
nothing about the test, whose body has already passed. tools/test.sh --sanitize reruns such
tests once instead of failing CI on them.

Prints a ctest -R regular expression matching exactly those tests and exits 0 when every failed
test is such a flake: its output has both tracer lines, gtest's "[  PASSED  ]" line, and no
sanitizer report or gtest failure. Exits 1 (printing nothing) when some failure is anything
else, or nothing failed.
"""
import re
import sys
import xml.etree.ElementTree as ElementTree

SIGNATURE = ("Tracer caught signal", "LeakSanitizer has encountered a fatal error")
REAL_PROBLEMS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                 "[  FAILED  ]", "SUMMARY: ")


def is_tracer_flake(output):
    return (all(line in output for line in SIGNATURE) and "[  PASSED  ]" in output
            and not any(problem in output for problem in REAL_PROBLEMS))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__.split("\n\n")[1])
    failed = [case for case in ElementTree.parse(sys.argv[1]).getroot().iter("testcase")
              if case.get("status") == "fail"]
    if not failed or not all(is_tracer_flake(case.findtext("system-out") or "") for case in failed):
        sys.exit(1)
    # ctest's regular expressions: escape what they treat specially, anchor whole names.
    names = [re.sub(r"([][\\.^$*+?(){}|])", r"\\\1", case.get("name")) for case in failed]
    print("^(" + "|".join(names) + ")$")


if __name__ == "__main__":
    main()
