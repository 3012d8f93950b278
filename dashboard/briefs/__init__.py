"""Briefs a fundraiser can hand over: one page per place and school year, from the same figures as the pages."""
