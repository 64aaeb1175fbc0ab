"""`flask triage "TEXT" --hours 26 ...`, `flask triage-eval FILE.jsonl [--json]`, `flask triage-probe`,
`flask triage-real-words`, `flask triage-train [--check]`.

The integrator registers `bp` in the app factory; the commands need no database.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import Blueprint

from bot.triage import classify, evaluation, probe, real_words

bp = Blueprint("triage", __name__, cli_group=None)


@bp.cli.command("triage")
@click.argument("text")
@click.option("--hours", type=float, required=True, help="Hours since the session ended.")
@click.option("--region", default=None, help="The needled region (protocol vocabulary).")
@click.option("--precaution", "precautions", multiple=True, help="A precaution; repeat for several.")
@click.option("--previous", type=int, default=None, help="The previous soreness score, 0-10.")
def triage_command(text: str, hours: float, region: str | None, precautions: tuple[str, ...],
                   previous: int | None) -> None:
    """Classify one reply and print the result as JSON."""
    try:
        result = classify(text, hours, region=region, precautions=precautions, previous_soreness=previous)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))


@bp.cli.command("triage-eval")
@click.argument("path", metavar="FILE.jsonl", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the evaluation as JSON.")
def triage_eval_command(path: str, as_json: bool) -> None:
    """Evaluate the classifier on a labelled JSONL file (PROTOCOL.md section 6)."""
    try:
        examples = evaluation.load(path)
    except evaluation.MalformedLine as exc:
        raise click.ClickException(f"malformed labelled file: {exc}") from None
    ev = evaluation.evaluate(evaluation.run(examples))
    if as_json:
        click.echo(json.dumps(evaluation.as_json(ev), ensure_ascii=False, indent=2))
    else:
        click.echo(evaluation.report(ev))


@bp.cli.command("triage-probe")
@click.option("--n", "n", type=click.IntRange(min=1), default=10_000, show_default=True,
              help="How many replies to compose.")
@click.option("--seed", type=int, default=9, show_default=True, help="The generator's seed (same seed, same replies).")
@click.option("--banks", "banks_dir", type=click.Path(exists=True, file_okay=False), default=str(probe.BANKS_DIR),
              show_default=True, help="The directory of redflags.jsonl, benign.jsonl and lookalikes.jsonl.")
@click.option("--show", type=click.IntRange(min=0), default=50, show_default=True, help="Failures to list.")
def triage_probe_command(n: int, seed: int, banks_dir: str, show: int) -> None:
    """The red-flag floor's hold rate over replies composed from the behavioural banks."""
    try:
        banks = probe.load_banks(Path(banks_dir))
    except (OSError, ValueError, KeyError) as exc:
        raise click.ClickException(f"cannot read the banks in {banks_dir}: {exc}") from None
    report = probe.probe_floor(banks, n=n, seed=seed)
    click.echo(f"red-flag floor held on {report.held:,} of {report.n:,} composed replies "
               f"({100 * report.hold_rate:.2f} %), seed {report.seed}")
    for failure in report.failures[:show]:
        r = failure.result
        click.echo(f"- {failure.reply.text!r} (h={failure.reply.hours:g}, region={failure.reply.region}, "
                   f"precautions={list(failure.reply.precautions)})")
        click.echo(f"    red flag {failure.flag.kind} ({failure.flag.level}): {failure.flag.text!r}")
        click.echo(f"    got {r.level}: {'; '.join(r.reasons)}")
    if len(report.failures) > show:
        click.echo(f"... and {len(report.failures) - show} more (--show)")


@bp.cli.command("triage-real-words")
@click.argument("dictionaries", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--out", type=click.Path(dir_okay=False), default=str(real_words.PATH), show_default=True)
def real_words_command(dictionaries: tuple[str, ...], out: str) -> None:
    """Regenerate real_words.txt (words typo repair must leave alone) from dictionary files."""
    count = real_words.write(list(dictionaries), Path(out))
    click.echo(f"{count} words written to {out}")


@bp.cli.command("triage-train")
@click.option("--check", is_flag=True, help="Only say whether the model file is current; write nothing.")
def triage_train_command(check: bool) -> None:
    """Build the second reader from every labelled reply in tests/data (deterministic), or --check it."""
    from bot.triage import learned, training

    if check:
        problems = training.stale()
        if problems:
            click.echo(f"{learned.MODEL_PATH.name} is stale; run `flask triage-train`:", err=True)
            for problem in problems:
                click.echo(f"  {problem}", err=True)
            raise SystemExit(1)
        click.echo(f"{learned.MODEL_PATH.name} is current")
        return
    click.echo("cross-validating and training (about two minutes of CPU)...")
    record = training.train()
    click.echo(training.summary(record))
    click.echo(f"wrote {learned.MODEL_PATH} and {learned.RECORD_PATH.name}; commit both")
