"""Reports: the FMA fusion study's grid-search figures, confusion matrices, learning curves and Table 9,
with bootstrap intervals, McNemar tests and the spread across seeds (:mod:`mgc.reports.stats`).

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
from mgc.reports.stats import aggregate_repeats, bootstrap_interval, mcnemar_exact, resampled_scores
from mgc.reports.tables import (
    COMPARISON_COLUMNS,
    REPEATS_COLUMNS,
    classification_report_text,
    comparison_markdown,
    comparison_table,
    evaluation_metrics,
    repeats_markdown,
    repeats_table,
    to_jsonable,
    write_classification_report,
    write_comparison,
    write_summary_json,
)

__all__ = [
    "COMPARISON_COLUMNS",
    "NON_PARAMS",
    "REPEATS_COLUMNS",
    "aggregate_repeats",
    "bootstrap_interval",
    "classification_report_text",
    "comparison_markdown",
    "comparison_table",
    "evaluation_metrics",
    "mcnemar_exact",
    "plot_comparison",
    "plot_confusion_matrix",
    "plot_grid",
    "plot_learning_curves",
    "repeats_markdown",
    "repeats_table",
    "resampled_scores",
    "to_jsonable",
    "write_classification_report",
    "write_comparison",
    "write_summary_json",
]
