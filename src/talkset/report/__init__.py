"""The HTML report of a curate run: funnel, distributions and a clip browser, as a static offline folder."""
from talkset.report.build import ReportError, build_report

__all__ = ["ReportError", "build_report"]
