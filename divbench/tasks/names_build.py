"""Derive the shipped first-name tables from U.S. SSA baby-name counts (public domain).

Run once by a maintainer; the outputs live in ``divbench/tasks/data/names/``::

    python -m divbench.tasks.names_build ../shared/data/diffuse/reference_populations/us_ssa_baby_names \\
        divbench/tasks/data/diffuse/prompts/baby-names/train.json divbench/tasks/data/names

* ``us_population.v1.tsv``: each name's share of all births (both sexes, all years given), for the
  ``TOP_SHARE`` most common names plus every target name of the baby-names prompt.
* ``first_name_gender.v1.json``: the ``TOP_GENDER`` most common names, labelled female or male when at
  least ``GENDER_THRESHOLD`` of their births are, else unisex.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

YEARS = ("2022", "2023")
TOP_SHARE = 1000
TOP_GENDER = 5000
GENDER_THRESHOLD = 0.9


def read_counts(ssa_dir: Path) -> tuple[Counter[str], Counter[str]]:
    """Female and male birth counts per name, summed over ``YEARS``."""
    female: Counter[str] = Counter()
    male: Counter[str] = Counter()
    for year in YEARS:
        for line in (ssa_dir / f"yob{year}.txt").read_text(encoding="utf-8").splitlines():
            name, sex, count = line.strip().split(",")
            (female if sex == "F" else male)[name] += int(count)
    return female, male


def population_table(female: Counter[str], male: Counter[str], targets: list[str]) -> dict[str, float]:
    """Share of all births for the top names plus the targets, most common first."""
    total = female + male
    births = sum(total.values())
    keep = [name for name, _ in total.most_common(TOP_SHARE)]
    keep += sorted(t for t in targets if t not in set(keep))
    missing = [t for t in targets if total[t] == 0]
    if missing:
        raise ValueError(f"targets absent from the SSA counts: {missing}")
    keep.sort(key=lambda n: (-total[n], n))
    return {name: total[name] / births for name in keep}


def gender_lexicon(female: Counter[str], male: Counter[str]) -> dict[str, list[str]]:
    """The most common names split into female / male / unisex by ``GENDER_THRESHOLD``."""
    total = female + male
    out: dict[str, list[str]] = {"female": [], "male": [], "unisex": []}
    for name, count in total.most_common(TOP_GENDER):
        share_f = female[name] / count
        label = "female" if share_f >= GENDER_THRESHOLD else "male" if 1 - share_f >= GENDER_THRESHOLD else "unisex"
        out[label].append(name)
    return {k: sorted(v) for k, v in out.items()}


def write_tables(ssa_dir: Path, targets_file: Path, out_dir: Path) -> None:
    female, male = read_counts(ssa_dir)
    targets = [t.strip("{}") for t in json.loads(targets_file.read_text(encoding="utf-8"))["targets"]]
    births = sum((female + male).values())
    out_dir.mkdir(parents=True, exist_ok=True)
    shares = population_table(female, male, targets)
    header = (
        f"# Share of U.S. births by first name, SSA national data, years {'+'.join(YEARS)}, both sexes summed;"
        f" total births {births}. Top {TOP_SHARE} names plus the {len(targets)} baby-names targets."
        " Public domain (SSA); derived by divbench.tasks.names_build.\nname\tshare\n"
    )
    rows = "".join(f"{name}\t{share:.6g}\n" for name, share in shares.items())
    (out_dir / "us_population.v1.tsv").write_text(header + rows, encoding="utf-8")
    lexicon = {
        "version": 1,
        "source": f"SSA national baby names {'+'.join(YEARS)} (public domain); divbench.tasks.names_build",
        "rule": f"top {TOP_GENDER} names by births; female/male when >= {GENDER_THRESHOLD:.0%} of births are",
        **gender_lexicon(female, male),
    }
    (out_dir / "first_name_gender.v1.json").write_text(
        json.dumps(lexicon, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8"
    )


if __name__ == "__main__":
    write_tables(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
