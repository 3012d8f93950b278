"""A brief as a tagged, one-page, letter-size PDF, laid out by typst.

The figures travel to the template as JSON in `sys.inputs`, never as markup: a school or affiliate name holding
typst syntax prints as text and runs nothing."""

from __future__ import annotations

import json
from pathlib import Path

import typst

from dashboard.briefs.content import Brief

TEMPLATE = Path(__file__).with_name("brief.typ")


def render(brief: Brief) -> bytes:
    """The brief as PDF bytes (PDF/UA-1: tagged, titled, in English)."""
    data = json.dumps(brief.as_dict())
    return typst.compile(TEMPLATE.read_bytes(), sys_inputs={"brief": data}, pdf_standards="ua-1",
                         ignore_system_fonts=True)  # fmt: skip
