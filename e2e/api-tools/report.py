"""Short reports of the tools' results for .ci/api-tools (standard library only).

    report.py lint <redocly-json-output>     one line per problem, then the totals;
                                            exits 1 on any error (or unreadable output)
    report.py schemathesis <junit.xml>      one block per failure: operation, check,
                                            answer and the curl that reproduces it
"""

from __future__ import annotations

import json
import re
import sys
import xml.etree.ElementTree as ET


def lint(path: str) -> int:
    try:
        with open(path, encoding="utf-8") as file:
            report = json.load(file)
        totals = report["totals"]
        problems = report["problems"]
    except (OSError, ValueError, KeyError) as error:
        print(f"  could not read the lint report {path}: {error}")
        return 1
    for problem in problems:
        location = (problem.get("location") or [{}])[0]
        start = location.get("start") or {}
        print(
            f"  {problem.get('severity', '?'):7} {problem.get('ruleId', '?'):28} "
            f"{location.get('pointer', '?')} (line {start.get('line', '?')}): "
            f"{problem.get('message', '').strip()}"
        )
    print(
        f"  redocly lint {report.get('version', '')}: {totals.get('errors', 0)} errors, "
        f"{totals.get('warnings', 0)} warnings, {totals.get('ignored', 0)} ignored"
    )
    return 1 if totals.get("errors", 0) else 0


CASE = re.compile(r"^\d+\. Test Case ID: (\S+)", re.MULTILINE)
CHECK = re.compile(r"^- (ST\d+ .+)$", re.MULTILINE)
ANSWER = re.compile(r"^\[(\d{3})\] ([^\n]*):?\n\n\s*(.*)$", re.MULTILINE)
CURL = re.compile(r"^\s*(curl .+)$", re.MULTILINE)


def shorten(text: str, limit: int = 600) -> str:
    """The start and the end (the URL) of a long line."""
    return text if len(text) <= limit else f"{text[: limit - 200]} ... {text[-190:]}"


def schemathesis(path: str) -> int:
    try:
        suites = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as error:
        print(f"  could not read the JUnit report {path}: {error}")
        return 1
    count = 0
    for testcase in suites.iter("testcase"):
        for element in list(testcase.findall("failure")) + list(testcase.findall("error")):
            text = element.text or element.get("message") or ""
            starts = [match.start() for match in CASE.finditer(text)] or [0]
            for begin, end in zip(starts, starts[1:] + [len(text)]):
                chunk = text[begin:end]
                count += 1
                case_id = CASE.search(chunk)
                checks = "; ".join(CHECK.findall(chunk)) or element.get("message") or element.tag
                print(f"  {element.tag.upper()} {testcase.get('name')}: {checks}"
                      + (f" (test case {case_id.group(1)})" if case_id else ""))
                answer = ANSWER.search(chunk)
                if answer:
                    print(f"      answer: [{answer.group(1)}] {answer.group(3)[:300]}")
                curl = CURL.search(chunk)
                if curl:
                    print(f"      reproduce: {shorten(curl.group(1))}")
                if not (answer or curl):
                    print("      " + chunk.strip()[:600].replace("\n", "\n      "))
    print(f"  schemathesis: {count} failures and errors in {path}")
    return 1 if count else 0


if __name__ == "__main__":
    commands = {"lint": lint, "schemathesis": schemathesis}
    if len(sys.argv) != 3 or sys.argv[1] not in commands:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(commands[sys.argv[1]](sys.argv[2]))
