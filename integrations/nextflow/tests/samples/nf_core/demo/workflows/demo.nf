include { FASTQC  } from '../modules/nf-core/fastqc/main'
include { MULTIQC } from '../modules/nf-core/multiqc/main'

workflow DEMO {
    take:
    ch_samplesheet

    main:
    FASTQC(ch_samplesheet)
    MULTIQC(FASTQC.out.zip.map { _meta, file -> file }.collect())
}
