process MULTIQC {
    label 'process_single'

    conda "${moduleDir}/environment.yml"
    container 'biocontainers/multiqc:1.25.1--pyhdfd78af_0'

    input:
    path  multiqc_files, stageAs: "?/*"

    output:
    path "*multiqc_report.html", emit: report

    script:
    """
    multiqc --force .
    """
}
