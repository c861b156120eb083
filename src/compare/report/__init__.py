"""The committee report: data read from the researcher views, the HTML templates, PDF output."""
