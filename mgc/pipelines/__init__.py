"""The CLI stages (``python -m mgc.pipelines <stage>``), each a thin layer over the library."""
