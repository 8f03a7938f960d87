"""`azevac alarms --config PATH|JSON|ssm:NAME [--output FILE]`: the detection stack for a config.

Prints the CloudFormation template (JSON, which is also YAML) for the config's `detection`
section; `> detection.yaml` and deploy it alone or through template.yaml (DetectionLoadBalancer).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from evacuation.config import load_config
from evacuation.detection.generate import build_template, render
from evacuation.errors import ConfigurationError

EXIT_OK, EXIT_INVALID = 0, 2


def parser() -> argparse.ArgumentParser:
    """`azevac alarms`'s arguments."""
    parser = argparse.ArgumentParser(prog="azevac alarms", description=__doc__.split("\n")[0])
    parser.add_argument("--config", help="file, inline JSON or ssm:<name> (AZEVAC_CONFIG)")
    parser.add_argument("--output", type=Path, help="write the template here instead of stdout")
    return parser


def main(argv: Sequence[str]) -> int:
    args = parser().parse_args(list(argv))
    try:
        reference = args.config or os.environ.get("AZEVAC_CONFIG")
        reader = None
        if reference and reference.strip().startswith("ssm:"):
            from evacuation.aws.clients import AwsClients  # noqa: PLC0415 - only for ssm:
            from evacuation.aws.ssm import ParameterReader  # noqa: PLC0415

            reader = ParameterReader(AwsClients())
        config = load_config(reference, reader)
    except ConfigurationError as exc:
        sys.stderr.write(f"azevac alarms: {exc}\n")
        return EXIT_INVALID
    if config.detection is None:
        sys.stderr.write("azevac alarms: the config has no detection section (README: Detection)\n")
        return EXIT_INVALID
    text = render(build_template(config.workload, config.detection))
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
    return EXIT_OK
