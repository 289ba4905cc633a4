"""Regenerate segments_oracle.json: boundary texts, counted by Twilio's sms-segments-calculator.

Run from the repository root (needs node and npm; the answer is committed so the suite does not):

    python tests/contract/oracles/make_segments_oracle.py

The texts sit at every segment boundary of 1-4 segments in GSM-7 and UCS-2, with two-septet
escape characters (``€ [ ] { } ^ ~ | \\`` and form feed) and surrogate pairs (emoji) placed on
and around the boundaries, plus seeded random mixes.
"""

from __future__ import annotations

import json
import random
import subprocess
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CALCULATOR = "sms-segments-calculator@1.3.0"
ESCAPES = "€[]{}^~|\\\f"
EMOJI = ("😀", "👍🏽", "🇺🇸")  # a surrogate pair; with a modifier; a flag (two pairs)


def texts() -> list[str]:
    out: list[str] = []
    for fill, edges in (("a", (153, 160, 306, 459)), ("é", (67, 70, 134, 201))):
        ucs = fill == "é"
        base = "ж" if ucs else "a"  # ж forces UCS-2 without being a pair
        for edge in edges:
            for n in range(edge - 4, edge + 5):
                out.append(base * n)
                for pos in range(max(0, n - 6), n):  # an escape or a pair near the end
                    special = "😀" if ucs else "€"
                    out.append(base * pos + special + base * (n - pos - 1))
                for e in ESCAPES if not ucs else EMOJI:
                    out.append(e * (n // 2) + base * (n % 2))
    out += ["a" * 152 + "€" + "a" * 152, "[" * 153, "😀" * 67, "😀" * 35, "€" * 80, "€" * 81]
    rng = random.Random(13)
    alphabet = "abc 1,.!?" + ESCAPES + "ж" + "".join(EMOJI)
    for _ in range(1500):
        n = rng.choice((rng.randint(60, 80), rng.randint(125, 210), rng.randint(300, 470)))
        text = "".join(rng.choice(alphabet) if rng.random() < 0.2 else "a" for _ in range(n))
        out.append(text)
    return sorted(set(out))


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["npm", "install", "--silent", "--prefix", tmp, CALCULATOR], check=True)
        result = subprocess.run(
            ["node", str(HERE / "segments_oracle.js")],
            input=json.dumps(texts()),
            capture_output=True,
            text=True,
            check=True,
            env={"NODE_PATH": str(Path(tmp) / "node_modules"), "PATH": "/usr/bin:/bin"},
        )
    rows = json.loads(result.stdout)
    doc = {"calculator": CALCULATOR, "cases": rows}
    (HERE / "segments_oracle.json").write_text(json.dumps(doc, ensure_ascii=False, indent=0) + "\n")
    print(f"{len(rows)} cases written")


if __name__ == "__main__":
    main()
