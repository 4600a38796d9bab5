#!/usr/bin/env python3
"""Builds a benchmark corpus of interpretation records whose readings are real English prose.

Prose comes from the Debian Administrator's Handbook (apt package debian-handbook, installed by
bench/run.sh): paragraphs are joined into readings of about 1.2 KB. Films, subjects, sources and
themes are drawn from small fixed lists so filters behave like the real data. Deterministic.

usage: make-corpus.py COUNT OUT.jsonl
"""
import html, json, pathlib, random, re, sys

SOURCE = pathlib.Path("/usr/share/doc/debian-handbook/html/en-US")
FILMS = [("La La Land", 2016, "Damien Chazelle"), ("A Real Pain", 2024, "Jesse Eisenberg"),
         ("Whiplash", 2014, "Damien Chazelle"), ("Past Lives", 2023, "Celine Song"),
         ("Aftersun", 2022, "Charlotte Wells"), ("Lost in Translation", 2003, "Sofia Coppola")]
SUBJECTS = ["final scene", "epilogue montage", "last look", "airport farewell", "opening", "the club", "the tour", "the song"]
KINDS = ["director", "cast", "critic", "article", "audience"]
THEMES = ["sacrifice", "dreams-vs-love", "grief", "identity", "nostalgia", "what-if", "regret", "family", "ambition", "memory"]

def paragraphs():
    if not SOURCE.is_dir():
        sys.exit(f"{SOURCE} missing: apt-get install debian-handbook")
    out, seen = [], set()
    for page in sorted(SOURCE.glob("*.html")):
        text = page.read_text(errors="replace")
        # The handbook's paragraphs are <div class="para">; <pre>/<code> blocks are left out so the
        # readings are prose, not terminal output.
        text = re.sub(r"<pre.*?</pre>", " ", text, flags=re.S)
        for p in re.findall(r'<div class="para"[^>]*>(.*?)</div>', text, flags=re.S):
            p = html.unescape(re.sub(r"<[^>]+>", "", p))
            p = " ".join(p.split())
            if len(p) > 80 and p not in seen:
                seen.add(p)
                out.append(p)
    return out

def main():
    count, path = int(sys.argv[1]), sys.argv[2]
    paras = paragraphs()
    rng = random.Random(2016)
    with open(path, "w") as f:
        for i in range(count):
            # Consecutive paragraphs from a random place: real prose, and with a million records
            # the same text recurs only the way a large corpus of readings repeats itself.
            cursor = rng.randrange(len(paras))
            reading = ""
            while len(reading) < 1150:
                reading += (" " if reading else "") + paras[cursor % len(paras)]
                cursor += 1
            reading = reading[:1250].rsplit(" ", 1)[0]
            film, year, director = FILMS[i % len(FILMS)]
            record = {
                "id": f"bench/{i:07d}", "film": film, "year": year, "director": director,
                "subject": rng.choice(SUBJECTS), "reading": reading,
                "source": f"Reviewer {rng.randrange(500)}, Outlet {rng.randrange(60)}",
                "sourceKind": rng.choice(KINDS), "themes": sorted(rng.sample(THEMES, rng.randint(1, 3))),
            }
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    print(f"wrote {count} records ({len(paras)} distinct paragraphs) to {path}")

if __name__ == "__main__":
    main()
