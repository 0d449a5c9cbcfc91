"""Reports: the FMA fusion study's grid-search figures, confusion matrices, learning curves and Table 9.

Pure post-processing of results (DataFrames, label arrays, summary dicts) into PNG, CSV,
Markdown and JSON files; no training code and no TensorFlow import.
"""

from mgc.reports.plots import (
    NON_PARAMS,
    plot_comparison,
    plot_confusion_matrix,
    plot_grid,
    plot_learning_curves,
)
from mgc.reports.tables import (
    COMPARISON_COLUMNS,
    classification_report_text,
    comparison_markdown,
    comparison_table,
    evaluation_metrics,
    to_jsonable,
    write_classification_report,
    write_comparison,
    write_summary_json,
)

__all__ = [
    "COMPARISON_COLUMNS",
    "NON_PARAMS",
    "classification_report_text",
    "comparison_markdown",
    "comparison_table",
    "evaluation_metrics",
    "plot_comparison",
    "plot_confusion_matrix",
    "plot_grid",
    "plot_learning_curves",
    "to_jsonable",
    "write_classification_report",
    "write_comparison",
    "write_summary_json",
]
