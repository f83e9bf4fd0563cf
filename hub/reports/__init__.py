"""Monthly supervision reports (月度电子监察报告): content, storage and the hub's own writer."""

from hub.reports.content import CITY, report_content
from hub.reports.desk import PdfUnavailable, Report, ReportDesk, ReportWriter

__all__ = ["CITY", "PdfUnavailable", "Report", "ReportDesk", "ReportWriter", "report_content"]
