"""The docmatix test split: public PDFs of collections no check was tuned on, brought into a local cache.

The tuning side is everything the checks were written or adjusted from: ../shared/data/pdf (pdfplumber,
docling, pdf.js, OCRmyPDF files) and the held-out pages of docmatix_heldout_pages.jsonl (pdfplumber,
py-pdf/sample-files, camelot, pdfminer.six). The test split takes whole collections that none of those
come from, one row per test page in benchmarks/data/docmatix_test_pages.jsonl (its collection, origin,
commit, path, licence, page, kind and the page text as the recipe's reader writes it). The PDFs stay out
of the repository: they are read from a cache (CURATE_TEST_PDFS, default ~/.cache/curate/docmatix-test),
filled from a git snapshot of the origin repository (/work/.mirror/OWNER+NAME, or a clone named by
CURATE_TEST_MIRRORS) or its raw GitHub URL, and the Debian package for the texlive manuals.

    python -m benchmarks.docmatix_test_pdfs fetch            # the originals into the cache
    python -m benchmarks.docmatix_test_pdfs excerpts DIR     # the test documents (<= 2 pages each) into DIR
    python -m benchmarks.docmatix_test_pdfs manifest > benchmarks/data/docmatix_test_pages.jsonl
    python -m benchmarks.docmatix_test_pdfs manifest s6 >> benchmarks/data/docmatix_test_pages.jsonl  # one round

A test document is a page range of one original written as its own PDF (Docmatix's samples are PDFs of
at most 4 pages), named COLLECTION/STEM.pFIRST-LAST.pdf; its page ids are that name + "#page=N".
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import requests

CACHE = Path(os.environ.get("CURATE_TEST_PDFS", Path.home() / ".cache" / "curate" / "docmatix-test"))
MIRRORS = Path(os.environ.get("CURATE_TEST_MIRRORS", "/work/.mirror"))

# collection -> where its files come from. Not used for tuning anywhere in this repository.
COLLECTIONS = {
    "tabula-java": {
        "repo": "tabulapdf/tabula-java",
        "commit": "2cdf3b4fd3f7e921dca8cc6814cdd9316be40f0f",
        "licence": "MIT (repository); the icdar2013 files are the ICDAR 2013 table competition's EU and "
        "US government documents",
    },
    "unstructured": {
        "repo": "Unstructured-IO/unstructured",
        "commit": "3e5482bfcdc843b5218ad98d2845b4b71ab013b7",
        "licence": "Apache-2.0 (repository)",
    },
    "newspaper-works-fixtures": {
        "repo": "marriott-library/newspaper_works_fixtures",
        "commit": "6c3b6edd0a08b1f19a69d49346ee8de854ef2bce",
        "licence": "Apache-2.0 (repository); scans of historical newspapers from the Library of Congress's "
        "Chronicling America batches and the University of Utah",
    },
    "texlive-latex-recommended-doc": {
        "deb": "texlive-latex-recommended-doc",
        "version": "2022.20230122-3",
        "root": "usr/share/doc/texlive-doc/",
        "licence": "Debian package (bookworm); each manual under its package's licence, mostly LPPL-1.3c "
        "(usr/share/doc/texlive-latex-recommended-doc/copyright)",
    },
    # round s6: added after every page above had been read while measuring, so pages nobody has seen
    "grobid": {
        "repo": "kermitt2/grobid",
        "commit": "b8d6bec302189e29a6c358ea513f8be834004a86",
        "licence": "Apache-2.0 (repository); the test papers are their authors' and publishers' (arXiv, IEEE, "
        "JSS under CC BY, Z. Naturforsch.), kept there as GROBID's test fixtures; the slides are GROBID's "
        "author's (Patrice Lopez)",
    },
    "asymptote-doc": {
        "deb": "asymptote-doc",
        "version": "2.85+ds-1",
        "root": "usr/share/doc/asymptote/",
        "licence": "Debian package (bookworm); Asymptote's manual, reference card and guides, GPL-3+ "
        "(usr/share/doc/asymptote-doc/copyright)",
    },
    "science-parse": {
        "repo": "allenai/science-parse",
        "commit": "f83983aa1b898f0e47c97f4997c57427bf277182",
        "licence": "Apache-2.0 (repository); the test papers are their authors' and publishers' (ACL Anthology "
        "papers under CC BY, OSDI, NIPS, VLDB), kept there as Science Parse's test fixtures",
    },
    # round s7: added after every page above had been read (s6 is tuning data for s7's changes)
    "pdfcpu": {
        "repo": "pdfcpu/pdfcpu",
        "commit": "105c0c28727afe7f85eb3179d03e9810d8774981",
        "licence": "Apache-2.0 (repository); the test PDFs are their authors' and publishers', kept there as "
        "pdfcpu's test data: ITU-T/CCITT Recommendations T.4, T.6, T.81 (ITU), J. Physiol. 1955 (a scan, "
        "The Physiological Society), an image-only book scan (HL1396), the AIDSinfo Paclitaxel fact sheet "
        "(NIH, US government work), Adobe's technical note 5116 and PDF errata, a Docker white paper, "
        "Alan Kay's essay, F. Schmager's thesis and PLATEAU 2010 paper",
    },
    "pdffigures2": {
        "repo": "allenai/pdffigures2",
        "commit": "3d7ad46753d4a315cccd1c2bcab398380e88c534",
        "licence": "Apache-2.0 (repository); the three test papers are their authors' and publishers' (Glia, "
        "IJCAI 2007, Nature Neuroscience), kept there as PDFFigures 2.0's test fixtures",
    },
    "octave-doc": {
        "deb": "octave-doc",
        "version": "7.3.0-2",
        "root": "usr/share/doc/octave/",
        "licence": "Debian package (bookworm); GNU Octave's manual (version 7.3.0) and reference card, the "
        "Octave Project Developers', GPL-3+ (usr/share/doc/octave-doc/copyright)",
    },
    # round s8: added after every page above had been read (s7 is tuning data for s8's measurement)
    "govdocs1": {
        "repo": "openpreserve/format-corpus",
        "commit": "9f263890680a8818cc622569b4a16298d08f0ead",
        "licence": "CC0 (repository, 'all items are CC0 licenced unless otherwise stated'); the files are copied "
        "from Govdocs1 (Garfinkel et al., DFRWS 2009: documents found on .gov web servers, 'freely available "
        "for research and may be freely redistributed', govdocs1-error-pdfs/readme.md): US government "
        "newsletters, statistical tables, slides, a scanned environmental assessment, a bill, reports",
    },
    "pymupdf-tests": {
        "repo": "pymupdf/PyMuPDF",
        "commit": "53c9aaf539b4fbb6a53010d90de3a2df96e82b5e",
        "licence": "AGPL-3.0 (repository); the test files are their issuers' and authors', attached to PyMuPDF "
        "bug reports and kept as its test resources: US government forms (CMS-1490S, IRS 7004, 940-B; "
        "public domain), an FAA approach chart, NIST SP 800-223 (US government work), "
        "ISO 26262 tables, a scanned California purchase agreement, spec sheets, financial notes and tables",
    },
    # round s9: added after every page above had been read (s8 is tuning data for the checks measured on s9)
    "zerox": {
        "repo": "getomni-ai/zerox",
        "commit": "91bbb20c50de86067670aa13833afa1b8a73c22e",
        "licence": "MIT (repository); the input documents are their issuers' and authors', kept there as Zerox's "
        "OCR test inputs: Tesla's Form 10-Q for Q3 2024 (an SEC filing), a resistor data sheet, an arXiv "
        "paper (Focused ReAct, its authors'), a Clark Capital portfolio proposal, a textbook page, Omni AI's "
        "API documentation",
    },
    "llama-parse": {
        "repo": "run-llama/llama_parse",
        "commit": "fd4b1893f1a5caa8833dfdf20a39de232ac399c3",
        "licence": "MIT (repository); the example documents are LlamaIndex's (a hackathon terms of service; a "
        "purchase order, an expense report and a metrics slide made up as parsing examples, no real person "
        "named), Caltrain's weekend timetable (Peninsula Corridor Joint Powers Board) and a page of "
        "'Attention Is All You Need' (Vaswani et al., Google's permission to reproduce its tables and figures)",
    },
    "ocr-testing": {
        "repo": "factful/ocr_testing",
        "commit": "c77442d5e8c17c851935d2b5edfe64221b2ea545",
        "licence": "no licence file (OpenNews/Factful's OCR comparison, source.opennews.org 'So many OCR options'); "
        "the documents are public records kept there as its test inputs: the FBI's redacted FISA application "
        "about Carter Page (released 2018, a US government work), Executive Orders 9066 and 9981 (National "
        "Archives scans, US government works, public domain), an order of the Puerto Rico Energy Commission "
        "(CEPR-MI-2017-0008) and a court filing of Whitefish Energy in case 17-04780 (D.P.R.)",
    },
    # round s10: added after every page above had been read (s9 is tuning data for the checks measured on s10)
    "mineru-demo": {
        "repo": "opendatalab/MinerU",
        "commit": "79d6d8d79fb8f3ddba5cc34c07a16f0ec36f56c7",
        "licence": "Apache-2.0 with MinerU's additional terms (repository, LICENSE.md); the demo PDFs are their "
        "authors' and publishers', kept there as MinerU's demo inputs: Lane et al., 'The response of flow "
        "duration curves to afforestation' (J. Hydrology 2005, Elsevier), Kowalczuk et al., 'Real-time "
        "Temporal Stereo Matching using Iterative Adaptive Support Weights', and Yang et al., 'TableFormer' "
        "(ACL 2022, arXiv)",
    },
    "gnuplot-doc": {
        "deb": "gnuplot-doc",
        "version": "5.4.4+dfsg1-2",
        "root": "usr/share/doc/gnuplot/",
        "licence": "Debian package (bookworm); the gnuplot 5.4 manual, gnuplot's licence (Thomas Williams, Colin "
        "Kelley and the gnuplot developers; free redistribution, usr/share/doc/gnuplot-doc/copyright)",
    },
    "pdf-lib": {
        "repo": "Hopding/pdf-lib",
        "commit": "93dd36e85aa659a3bca09867d2d8fac172501fbe",
        "licence": "MIT (repository); the IRS forms and instructions (Form 1040, 1040-V) are US government "
        "works in the public domain; the DC D-2210, the Canadian cannabis duty return (CRA), the sample "
        "form, CV and receipt are their issuers', kept there as pdf-lib's test assets",
    },
}


@dataclass(frozen=True)
class TestDoc:
    collection: str
    path: str  # inside the repository (or under the package's root)
    first: int  # 1-based page range of the original
    last: int
    kind: str  # what a reader sees: tables, form, newspaper, scan, code_manual, maths_manual, paper, memo, report,
    # slides, chart
    alias: str = ""  # the name's stem where the file's own is not unique in its collection
    round: str = ""  # the session that added it ("s6": pages no one had read when they were added)

    @property
    def name(self) -> str:
        return f"{self.collection}/{self.alias or Path(self.path).stem}.p{self.first}-{self.last}.pdf"


TABULA = "src/test/resources/technology/tabula/"
ICDAR = TABULA + "icdar2013-dataset/competition-dataset-"
UNSTRUCTURED = "example-docs/pdf/"
NEWS = "spec/fixtures/files/"
TEX = "latex/"
GROBID_TEST = "grobid-core/src/test/resources/test/"
PDFLIB = "assets/pdfs/"

# Chosen by file name and what the page is (before any pair was generated on them): 2-page excerpts
# of longer documents, first pages of short ones, manual pages with code listings and formulas.
DOCS = [
    # tables and forms
    TestDoc("tabula-java", ICDAR + "eu/eu-001.pdf", 1, 2, "tables"),
    TestDoc("tabula-java", ICDAR + "eu/eu-004.pdf", 1, 1, "tables"),
    TestDoc("tabula-java", ICDAR + "eu/eu-009a.pdf", 1, 1, "tables"),
    TestDoc("tabula-java", ICDAR + "eu/eu-014.pdf", 1, 2, "tables"),
    TestDoc("tabula-java", ICDAR + "eu/eu-021.pdf", 1, 1, "tables"),
    TestDoc("tabula-java", ICDAR + "us/us-001.pdf", 1, 2, "tables"),
    TestDoc("tabula-java", ICDAR + "us/us-004.pdf", 1, 1, "tables"),
    TestDoc("tabula-java", ICDAR + "us/us-010.pdf", 1, 1, "tables"),
    TestDoc("tabula-java", ICDAR + "us/us-014.pdf", 1, 1, "tables"),
    TestDoc("tabula-java", TABULA + "frx_2012_disclosure.pdf", 1, 1, "form"),
    TestDoc("tabula-java", TABULA + "S2MNCEbirdisland.pdf", 1, 2, "tables"),
    TestDoc("tabula-java", TABULA + "12s0324.pdf", 1, 1, "tables"),
    TestDoc("tabula-java", TABULA + "cs-en-us-pbms.pdf", 1, 1, "report"),
    TestDoc(
        "tabula-java",
        TABULA + "Publication_of_award_of_Bids_for_Transport_Sector__August_2016.pdf",
        1,
        1,
        "tables",
    ),  # fmt: skip
    # papers, memos, scans, reports
    TestDoc("unstructured", UNSTRUCTURED + "DA-1p.pdf", 1, 1, "form"),
    TestDoc("unstructured", UNSTRUCTURED + "a1977-backus-p21.pdf", 1, 1, "scan"),
    TestDoc("unstructured", UNSTRUCTURED + "chevron-page.pdf", 1, 1, "report"),
    TestDoc("unstructured", UNSTRUCTURED + "embedded-images-tables.pdf", 1, 1, "tables"),
    TestDoc("unstructured", UNSTRUCTURED + "fake-memo.pdf", 1, 1, "memo"),
    TestDoc("unstructured", UNSTRUCTURED + "interface-config-guide-p93.pdf", 1, 1, "code_manual"),
    TestDoc("unstructured", UNSTRUCTURED + "layout-parser-paper-fast.pdf", 1, 2, "paper"),
    TestDoc("unstructured", UNSTRUCTURED + "multi-column-2p.pdf", 1, 2, "paper"),
    TestDoc("unstructured", UNSTRUCTURED + "pdf-with-ocr-text.pdf", 1, 1, "scan"),
    TestDoc("unstructured", UNSTRUCTURED + "reliance.pdf", 1, 1, "report"),
    TestDoc("unstructured", UNSTRUCTURED + "single_table.pdf", 1, 1, "tables"),
    TestDoc("unstructured", UNSTRUCTURED + "table-multi-row-column-cells.pdf", 1, 1, "tables"),
    TestDoc("unstructured", UNSTRUCTURED + "list-item-example.pdf", 1, 2, "report"),
    TestDoc("unstructured", UNSTRUCTURED + "multi-column.pdf", 5, 6, "paper"),
    # newspapers (scans with their OCR text layer)
    TestDoc(
        "newspaper-works-fixtures",
        NEWS + "article_segmented/batch_deseret_news/pages/pdf/p001_Va_071_D45_v01.pdf",
        1,
        1,
        "newspaper",
    ),  # fmt: skip
    TestDoc(
        "newspaper-works-fixtures",
        NEWS + "article_segmented/batch_deseret_news/pages/pdf/p004_Va_071_D45_v01.pdf",
        1,
        1,
        "newspaper",
    ),  # fmt: skip
    TestDoc(
        "newspaper-works-fixtures",
        NEWS + "article_segmented/batch_topaz_times/pages/pdf/ttt_19441101-19450131_0059.pdf",
        1,
        1,
        "newspaper",
    ),  # fmt: skip
    TestDoc(
        "newspaper-works-fixtures",
        NEWS + "article_segmented/batch_topaz_times/pages/pdf/ttt_19441101-19450131_0061.pdf",
        1,
        1,
        "newspaper",
    ),  # fmt: skip
    TestDoc(
        "newspaper-works-fixtures",
        NEWS + "ndnp/batch_local/sn85058233/17082901001/1935080201/1289.pdf",
        1,
        1,
        "newspaper",
    ),  # fmt: skip
    TestDoc(
        "newspaper-works-fixtures",
        NEWS + "ndnp/batch_test_ver01/data/sn84038814/00279557177/0480.pdf",
        1,
        1,
        "newspaper",
    ),  # fmt: skip
    TestDoc(
        "newspaper-works-fixtures",
        NEWS + "article_segmented/batch_deseret_news/articles/pdf/4.pdf",
        1,
        1,
        "newspaper",
        "deseret-article-4",
    ),  # fmt: skip
    TestDoc(
        "newspaper-works-fixtures",
        NEWS + "article_segmented/batch_deseret_news/articles/pdf/9.pdf",
        1,
        1,
        "newspaper",
        "deseret-article-9",
    ),  # fmt: skip
    TestDoc(
        "newspaper-works-fixtures",
        NEWS + "article_segmented/batch_topaz_times/articles/pdf/10.pdf",
        1,
        1,
        "newspaper",
        "topaz-article-10",
    ),  # fmt: skip
    TestDoc(
        "newspaper-works-fixtures",
        NEWS + "article_segmented/batch_topaz_times/articles/pdf/4.pdf",
        1,
        1,
        "newspaper",
        "topaz-article-4",
    ),  # fmt: skip
    # code and maths manuals
    TestDoc("texlive-latex-recommended-doc", TEX + "listings/listings.pdf", 12, 13, "code_manual"),
    TestDoc("texlive-latex-recommended-doc", TEX + "mathtools/mathtools.pdf", 5, 6, "maths_manual"),
    TestDoc("texlive-latex-recommended-doc", TEX + "breqn/breqn.pdf", 3, 4, "maths_manual"),
    TestDoc("texlive-latex-recommended-doc", TEX + "booktabs/booktabs.pdf", 3, 4, "tables"),
    TestDoc("texlive-latex-recommended-doc", TEX + "fancyvrb/fancyvrb-doc.pdf", 4, 5, "code_manual"),
    TestDoc("texlive-latex-recommended-doc", TEX + "etoolbox/etoolbox.pdf", 6, 7, "code_manual"),
    TestDoc("texlive-latex-recommended-doc", TEX + "unicode-math/unicode-math.pdf", 8, 9, "maths_manual"),
    TestDoc("texlive-latex-recommended-doc", TEX + "mathtools/empheq.pdf", 4, 5, "maths_manual"),
    TestDoc("texlive-latex-recommended-doc", TEX + "xcolor/xcolor.pdf", 10, 11, "tables"),
    TestDoc("texlive-latex-recommended-doc", TEX + "beamer/beameruserguide.pdf", 60, 61, "code_manual"),
    TestDoc(
        "texlive-latex-recommended-doc",
        TEX + "fp/documentation.pdf",
        2,
        3,
        "maths_manual",
        "fp-documentation",
    ),
    TestDoc("texlive-latex-recommended-doc", TEX + "setspace/setspace-doc.pdf", 1, 2, "code_manual"),
]

# Round s6 (2026-12-07): two (then three) collections no check or prompt was tuned on, chosen by file name and a look at
# each page's text before any pair was generated: multi-column papers, slides and a guidelines manual
# (GROBID's test and documentation PDFs), forms, tax instructions, a CV and a receipt (pdf-lib's assets).
# (pdf-lib's copy of pdf.js's tracemonkey paper is left out: pdf.js is tuning data.)
S6 = [
    TestDoc("grobid", GROBID_TEST + "1001._0908.0054.pdf", 1, 2, "paper", round="s6"),
    TestDoc("grobid", GROBID_TEST + "Wang-paperAVE2008.pdf", 3, 4, "paper", round="s6"),
    TestDoc("grobid", GROBID_TEST + "ZFN-A-054-0304-0272.pdf", 1, 2, "maths_paper", round="s6"),
    TestDoc("grobid", GROBID_TEST + "submission_355.pdf", 1, 1, "paper", round="s6"),
    TestDoc("grobid", GROBID_TEST + "test_Grobid_1_05452615.pdf", 3, 4, "paper", round="s6"),
    TestDoc("grobid", GROBID_TEST + "test_Grobid_2_05982691.pdf", 1, 1, "paper", round="s6"),
    TestDoc("grobid", GROBID_TEST + "MullenJSSv18i03.pdf", 5, 6, "code_manual", round="s6"),
    TestDoc("grobid", "doc/grobid-04-2015.pdf", 2, 3, "slides", round="s6"),
    TestDoc("grobid", "doc/GROBID.pdf", 6, 6, "slides", round="s6"),
    TestDoc("grobid", "grobid-trainer/doc/GuidelinesTrainingData.pdf", 2, 3, "code_manual", round="s6"),
    TestDoc("grobid", "grobid-service/src/test/resources/sample5/gadr.pdf", 1, 1, "paper", round="s6"),
    TestDoc("pdf-lib", PDFLIB + "normal.pdf", 1, 2, "form", "dc-d2210", round="s6"),
    TestDoc("pdf-lib", PDFLIB + "with_xfa_fields.pdf", 1, 1, "form", round="s6"),
    TestDoc("pdf-lib", PDFLIB + "with_update_sections.pdf", 1, 1, "form", round="s6"),
    TestDoc("pdf-lib", PDFLIB + "sample_form.pdf", 1, 1, "form", round="s6"),
    TestDoc("pdf-lib", PDFLIB + "examples/fill_form.pdf", 1, 1, "form", round="s6"),
    TestDoc("pdf-lib", PDFLIB + "with_combed_fields.pdf", 1, 2, "form", round="s6"),
    TestDoc("pdf-lib", PDFLIB + "with_comments.pdf", 1, 1, "form", round="s6"),
    TestDoc("pdf-lib", PDFLIB + "with_cropbox.pdf", 1, 2, "report", round="s6"),
    TestDoc("pdf-lib", PDFLIB + "with_missing_endstream_eol_and_polluted_ctm.pdf", 1, 1, "form", "receipt",
            round="s6"),  # fmt: skip
    TestDoc("pdf-lib", PDFLIB + "us_constitution.pdf", 2, 3, "report", round="s6"),
    TestDoc("pdf-lib", PDFLIB + "linearized_with_object_streams.pdf", 20, 21, "report", "irs-1040-instructions",
            round="s6"),  # fmt: skip
]
# added to round s6 once its first 34 pages had run (08:35): none of them gave a pair quoting code or
# naming a table row, the two things this round's fixes change; a code and maths manual of another project
# than the LaTeX manuals (Asymptote, a vector graphics language), pages picked by their text before any pair
ASY = "asymptote.pdf"
S6 += [
    TestDoc("asymptote-doc", ASY, 31, 32, "code_manual", "asymptote-pairs", round="s6"),
    TestDoc("asymptote-doc", ASY, 81, 82, "maths_manual", "asymptote-matrices", round="s6"),
    TestDoc("asymptote-doc", ASY, 56, 57, "code_manual", "asymptote-pictures", round="s6"),
    TestDoc("asymptote-doc", ASY, 121, 122, "code_manual", "asymptote-graph", round="s6"),
    TestDoc("asymptote-doc", "asyRefCard.pdf", 1, 2, "code_manual", round="s6"),
    TestDoc("asymptote-doc", "CAD.pdf", 4, 5, "code_manual", round="s6"),
    TestDoc("asymptote-doc", "asy-latex.pdf", 2, 3, "code_manual", round="s6"),
    TestDoc("asymptote-doc", ASY, 10, 11, "code_manual", "asymptote-config", round="s6"),
]
# and at 08:57, with time left in the session: two-column papers with tables and numbers of a fourth
# collection (AllenAI's Science Parse test PDFs), pages picked by their text length before any pair
SP = "core/src/test/resources/"
S6 += [
    TestDoc("science-parse", SP + "P07-1088.pdf", 5, 6, "paper", round="s6"),
    TestDoc("science-parse", SP + "map-reduce.pdf", 3, 4, "paper", round="s6"),
    TestDoc("science-parse", SP + "bohnet09.pdf", 4, 5, "paper", round="s6"),
    TestDoc("science-parse", SP + "dyer12.pdf", 1, 1, "paper", round="s6"),
    TestDoc("science-parse", SP + "roark13.pdf", 5, 6, "paper", round="s6"),
    TestDoc("science-parse", SP + "seung08.pdf", 5, 5, "paper", round="s6"),
    TestDoc("science-parse", SP + "zolotov04.pdf", 1, 1, "paper", round="s6"),
    TestDoc("science-parse", SP + "P14-1059.pdf", 6, 7, "paper", round="s6"),
]
DOCS += S6

# Round s7 (2026-12-07, 11:05): three collections no check, prompt or person had read, chosen by file name and
# each page's text length before any pair was generated: scans (a 1955 journal paper with its OCR layer, an
# image-only book scan), standards with tables and formulas, a drug fact sheet, tech notes and a two-column
# paper (pdfcpu's test data); multi-column papers with figures and tables (PDFFigures 2.0's test papers);
# GNU Octave's manual and reference card (code and maths; Debian's r-doc-pdf and texlive-science-doc are
# reserved for an outside check). The scans are read by OCR where they have no text layer.
PDFCPU = "pkg/testdata/"
PF2 = "src/test/resources/test-pdfs/"
S7 = [
    TestDoc("pdfcpu", PDFCPU + "jphysiol01396-0132.pdf", 1, 2, "scan", "jphysiol-1955", round="s7"),
    TestDoc("pdfcpu", PDFCPU + "HL1396.pdf", 6, 7, "scan", "hl1396-book-scan", round="s7"),
    TestDoc("pdfcpu", PDFCPU + "Paclitaxel.PDF", 1, 2, "tables", "paclitaxel-fact-sheet", round="s7"),
    TestDoc("pdfcpu", PDFCPU + "T4.pdf", 9, 10, "report", "itu-t4", round="s7"),
    TestDoc("pdfcpu", PDFCPU + "itu-t81.pdf", 30, 31, "maths_manual", round="s7"),
    TestDoc("pdfcpu", PDFCPU + "schmager_plateau10.pdf", 2, 3, "paper", round="s7"),
    TestDoc("pdfcpu", PDFCPU + "5116.DCT_Filter.pdf", 5, 6, "code_manual", "adobe-5116-dct", round="s7"),
    TestDoc("pdfcpu", PDFCPU + "adobe_errata.pdf", 2, 3, "tables", round="s7"),
    TestDoc("pdfcpu", PDFCPU + "RA_CI.pdf", 3, 4, "report", "docker-ci-whitepaper", round="s7"),
    TestDoc("pdfcpu", PDFCPU + "T6.pdf", 3, 4, "report", "itu-t6", round="s7"),
    TestDoc("pdfcpu", PDFCPU + "ECSTR11-01.pdf", 20, 21, "code_manual", "schmager-thesis", round="s7"),
    TestDoc("pdfcpu", PDFCPU + "CenterOfWhy.pdf", 2, 3, "memo", round="s7"),
    TestDoc("pdfcpu", PDFCPU + "jphysiol01396-0132.pdf", 3, 4, "scan", "jphysiol-1955", round="s7"),
    TestDoc("pdfcpu", PDFCPU + "HL1396.pdf", 10, 10, "scan", "hl1396-book-scan", round="s7"),
    TestDoc("pdffigures2", PF2 + "3a9202f9f176d3377516e3da0866cc19148c033b.pdf", 1, 2, "paper", "glia-calcium-waves",
            round="s7"),  # fmt: skip
    TestDoc("pdffigures2", PF2 + "498bb0efad6ec15dd09d941fb309aa18d6df9f5f.pdf", 5, 6, "paper", "open-ie-web",
            round="s7"),  # fmt: skip
    TestDoc("pdffigures2", PF2 + "f63cb20759fab2514802c3ef2a743c76bf9dc9f1.pdf", 2, 3, "paper", "synapse-nature-neuro",
            round="s7"),  # fmt: skip
    TestDoc("pdffigures2", PF2 + "3a9202f9f176d3377516e3da0866cc19148c033b.pdf", 6, 7, "paper", "glia-calcium-waves",
            round="s7"),  # fmt: skip
    TestDoc("pdffigures2", PF2 + "498bb0efad6ec15dd09d941fb309aa18d6df9f5f.pdf", 1, 2, "paper", "open-ie-web",
            round="s7"),  # fmt: skip
    TestDoc("pdfcpu", PDFCPU + "T4.pdf", 12, 13, "report", "itu-t4", round="s7"),
    TestDoc("octave-doc", "octave.pdf", 26, 27, "maths_manual", "octave-intro", round="s7"),
    TestDoc("octave-doc", "octave.pdf", 87, 88, "code_manual", "octave-strings", round="s7"),
    TestDoc("octave-doc", "octave.pdf", 127, 128, "code_manual", "octave-containers", round="s7"),
    TestDoc("octave-doc", "octave.pdf", 201, 202, "code_manual", "octave-statements", round="s7"),
    TestDoc("octave-doc", "octave.pdf", 255, 256, "code_manual", "octave-errors", round="s7"),
    TestDoc("octave-doc", "octave.pdf", 321, 322, "code_manual", "octave-io", round="s7"),
    TestDoc("octave-doc", "octave.pdf", 601, 602, "maths_manual", "octave-linear-algebra", round="s7"),
    TestDoc("octave-doc", "octave.pdf", 623, 624, "maths_manual", "octave-svd", round="s7"),
    TestDoc("octave-doc", "refcard-a4.pdf", 1, 2, "tables", "octave-refcard", round="s7"),
    TestDoc("pdffigures2", PF2 + "f63cb20759fab2514802c3ef2a743c76bf9dc9f1.pdf", 5, 6, "paper", "synapse-nature-neuro",
            round="s7"),  # fmt: skip
]
DOCS += S7


# Round s8 (2026-12-07, 12:30): two collections no check, prompt or person had read, chosen by file name and
# each page's text length before any pair was generated, for the kinds the split was thin on: Govdocs1's
# US government files (a newsletter, a magazine, statistical tables, slides, a scanned report, a bill,
# policies and reports) and the real-world files of PyMuPDF's bug reports (filled and blank forms, a scanned
# form, tables, spec sheets, a chart, financial notes). English pages only, as Docmatix's.
GOV1, GOV2 = "govdocs1-error-pdfs/error_set_1/", "govdocs1-error-pdfs/error_set_2/"
PYM = "tests/resources/"
S8 = [
    TestDoc("govdocs1", GOV2 + "507676.pdf", 1, 2, "newspaper", "glider-express-newsletter", round="s8"),
    TestDoc("govdocs1", GOV2 + "268346.pdf", 3, 4, "tables", "stat-abstract-retail", round="s8"),
    TestDoc("govdocs1", GOV2 + "492484.pdf", 3, 4, "slides", "sns-accelerator-slides", round="s8"),
    TestDoc("govdocs1", GOV2 + "247224.pdf", 3, 4, "scan", "fonsi-scan", round="s8"),
    TestDoc("govdocs1", GOV1 + "225189.pdf", 1, 1, "tables", "select-agents-list", round="s8"),
    TestDoc("govdocs1", GOV1 + "032270.pdf", 1, 1, "memo", "pvamc-animal-studies", round="s8"),
    TestDoc("govdocs1", GOV1 + "421197.pdf", 4, 5, "slides", "eric-course-slides", round="s8"),
    TestDoc("govdocs1", GOV2 + "477139.pdf", 1, 2, "report", "hr1904-bill", round="s8"),
    TestDoc("govdocs1", GOV2 + "033689.pdf", 1, 2, "tables", "housing-units-2005", round="s8"),
    TestDoc("govdocs1", GOV1 + "160721.pdf", 1, 1, "memo", "mirecc-abstract", round="s8"),
    TestDoc("govdocs1", GOV2 + "455746.pdf", 5, 6, "tables", "usgs-methods", round="s8"),
    TestDoc("govdocs1", GOV2 + "178360.pdf", 2, 3, "newspaper", "heads-up-magazine", round="s8"),
    TestDoc("govdocs1", GOV2 + "504076.pdf", 2, 3, "report", "law-library-iraq", round="s8"),
    TestDoc("govdocs1", GOV1 + "008677.pdf", 1, 2, "report", "va-safety-policy", round="s8"),
    TestDoc("govdocs1", GOV1 + "503492.pdf", 1, 1, "memo", "mirecc-ptsd-abstract", round="s8"),
    TestDoc("govdocs1", GOV1 + "125619.pdf", 1, 1, "report", "piarc-road-safety-audit", round="s8"),
    TestDoc("pymupdf-tests", PYM + "cms-etc-filled.pdf", 1, 2, "form", "cms-1490s-filled", round="s8"),
    TestDoc("pymupdf-tests", PYM + "test_2979.pdf", 1, 1, "tables", "iso26262-tables", round="s8"),
    TestDoc("pymupdf-tests", PYM + "test_4147.pdf", 1, 1, "scan", "ca-purchase-agreement-scan", round="s8"),
    TestDoc("pymupdf-tests", PYM + "test-4055.pdf", 1, 1, "form", "irs-7004", round="s8"),
    TestDoc("pymupdf-tests", PYM + "test_3848.pdf", 1, 2, "tables", "excavator-spec-sheet", round="s8"),
    TestDoc("pymupdf-tests", PYM + "test_3062.pdf", 1, 1, "chart", "faa-approach-chart", round="s8"),
    TestDoc("pymupdf-tests", PYM + "test_3725.pdf", 1, 1, "tables", "tdr-table", round="s8"),
    TestDoc("pymupdf-tests", PYM + "test_4114.pdf", 1, 2, "form", "irs-940b", round="s8"),
    TestDoc("pymupdf-tests", PYM + "github_sample.pdf", 1, 1, "report", "financial-statement-notes", round="s8"),
    TestDoc("pymupdf-tests", PYM + "test_3994.pdf", 1, 1, "tables", "hydrogen-appendix-table", round="s8"),
    TestDoc("pymupdf-tests", PYM + "test_4017.pdf", 1, 1, "tables", "clo-deal-summary", round="s8"),
    TestDoc("pymupdf-tests", PYM + "test_3842.pdf", 5, 6, "report", "nist-sp800-223", round="s8"),
    TestDoc("pymupdf-tests", PYM + "test_3197.pdf", 1, 1, "tables", "stock-quote-page", round="s8"),
    TestDoc("pymupdf-tests", PYM + "test_5049.pdf", 1, 2, "maths_manual", "maths-midterm", round="s8"),
]
DOCS += S8

# Round s9 (2026-12-07, 13:50): three collections no check, prompt or person had read, chosen by file name and
# each page's text length (the scans by a look at their thumbnails) before any pair was generated: the OCR test
# inputs of Zerox (an SEC 10-Q's cover and financial statements, a data sheet, a paper, a portfolio proposal in
# slides), LlamaParse's example documents (a timetable, a purchase order and an expense report, terms of service,
# a metrics slide, a paper's table) and the scans of an OCR comparison (a redacted FISA application, typewritten
# executive orders, a regulator's order and a court filing, scanned; the pages without a text layer are OCRed).
# English pages only, as Docmatix's. Left out for the people on them: a signed audit sign-in sheet (zerox
# 0002.pdf: names, e-mails, signatures), a receipt billed to a person's e-mail (llama_parse's
# noisebridge_receipt.pdf), a campaign finance filing (donors), the signature and certificate pages of the
# order and the filing; also left out: made-up CVs, a Japanese quotation, a food label.
ZX, LP, OT = "shared/inputs/", "examples/parse/", "documents/"
S9 = [
    TestDoc("zerox", ZX + "0018.pdf", 1, 2, "form", "tesla-10q", round="s9"),
    TestDoc("zerox", ZX + "0003.pdf", 1, 1, "tables", "resistor-datasheet", round="s9"),
    TestDoc("zerox", ZX + "0013.pdf", 1, 2, "slides", "portfolio-proposal", round="s9"),
    TestDoc("zerox", ZX + "0004.pdf", 1, 2, "paper", "focused-react-paper", round="s9"),
    TestDoc("zerox", ZX + "0018.pdf", 3, 4, "tables", "tesla-10q", round="s9"),
    TestDoc("zerox", "assets/cs101.pdf", 1, 1, "code_manual", "cs101-java-types", round="s9"),
    TestDoc("zerox", ZX + "0013.pdf", 3, 3, "report", "portfolio-proposal", round="s9"),
    TestDoc("zerox", "node-zerox/tests/data/1-pages.pdf", 1, 1, "code_manual", "omniai-api-docs", round="s9"),
    TestDoc("zerox", ZX + "0018.pdf", 5, 5, "tables", "tesla-10q", round="s9"),
    TestDoc("llama-parse", LP + "caltrain/caltrain_schedule_weekend.pdf", 1, 1, "tables", round="s9"),
    TestDoc("llama-parse", LP + "parsing_instructions/purchase_order_document.pdf", 1, 2, "form", round="s9"),
    TestDoc("llama-parse", LP + "parsing_instructions/expense_report_document.pdf", 1, 2, "form", round="s9"),
    TestDoc("llama-parse", "TOS.pdf", 1, 2, "report", "hackathon-tos", round="s9"),
    TestDoc("llama-parse", "tests/extract/data/slide/saas_slide.pdf", 1, 1, "slides", round="s9"),
    TestDoc("llama-parse", LP + "parsing_instructions/expense_report_document.pdf", 3, 4, "form", round="s9"),
    TestDoc("llama-parse", "tests/test_files/attention_is_all_you_need.pdf", 1, 1, "tables", "attention-table",
            round="s9"),  # fmt: skip
    TestDoc("llama-parse", "TOS.pdf", 3, 4, "report", "hackathon-tos", round="s9"),
    TestDoc("ocr-testing", "acrobat/historical-executive_order_9066-japanese_internment.acrobat.pdf", 1, 1, "scan",
            "executive-order-9066", round="s9"),  # fmt: skip
    TestDoc("ocr-testing", OT + "legal-carter_page_fisa.pdf", 6, 7, "scan", "fisa-application", round="s9"),
    TestDoc("ocr-testing", OT + "cepr_oversight_order.pdf", 1, 2, "scan", "cepr-oversight-order", round="s9"),
    TestDoc("ocr-testing", OT + "whitefish_energy_vs_commonwealth_puerto_rico.pdf", 2, 3, "scan",
            "whitefish-filing", round="s9"),  # fmt: skip
    TestDoc("ocr-testing", "acrobat/historical-executive_order_9981-armed_services.acrobat.pdf", 1, 1, "scan",
            "executive-order-9981", round="s9"),  # fmt: skip
    TestDoc("ocr-testing", OT + "cepr_oversight_order.pdf", 3, 4, "scan", "cepr-oversight-order", round="s9"),
    TestDoc("ocr-testing", OT + "legal-carter_page_fisa.pdf", 23, 24, "scan", "fisa-application", round="s9"),
    TestDoc("ocr-testing", OT + "whitefish_energy_vs_commonwealth_puerto_rico.pdf", 5, 6, "scan",
            "whitefish-filing", round="s9"),  # fmt: skip
    TestDoc("ocr-testing", OT + "cepr_oversight_order.pdf", 5, 6, "scan", "cepr-oversight-order", round="s9"),
]
# added at 14:50, the run on the 26 above nearly done, to bring the round to 45 pages (picked as above)
S9 += [
    TestDoc("ocr-testing", OT + "legal-carter_page_fisa.pdf", 16, 17, "scan", "fisa-application", round="s9"),
    TestDoc("ocr-testing", OT + "cepr_oversight_order.pdf", 7, 7, "scan", "cepr-oversight-order", round="s9"),
]
DOCS += S9

# Round s10 (2026-12-07, 15:15): two collections no check, prompt or person had read, chosen by file name, the
# table of contents and each page's text length before any pair was generated: MinerU's demo papers (a hydrology
# paper's tables and figures, a stereo-matching paper, a table-encoding paper's result tables) and the gnuplot 5.4
# manual (tables of functions, operators, format and time specifiers, enhanced-text codes, environment
# variables; its sections on histograms and stats). English pages only, as Docmatix's. Left out for the people
# on them: each paper's first page (the authors' e-mail addresses); also left out: MinerU's Chinese scan
# (small_ocr.pdf) and its Chinese chemistry notes, olmOCR's test PDFs (read for the OCR routing bench).
MU, GP = "demo/pdfs/", "gnuplot.pdf"
S10 = [
    TestDoc("mineru-demo", MU + "demo1.pdf", 5, 6, "tables", "flow-duration-afforestation", round="s10"),
    TestDoc("mineru-demo", MU + "demo3.pdf", 5, 6, "tables", "tableformer", round="s10"),
    TestDoc("mineru-demo", MU + "demo2.pdf", 2, 3, "paper", "temporal-stereo-matching", round="s10"),
    TestDoc("mineru-demo", MU + "demo1.pdf", 8, 9, "tables", "flow-duration-afforestation", round="s10"),
    TestDoc("mineru-demo", MU + "demo3.pdf", 7, 8, "tables", "tableformer", round="s10"),
    TestDoc("mineru-demo", MU + "demo2.pdf", 4, 4, "paper", "temporal-stereo-matching", round="s10"),
    TestDoc("mineru-demo", MU + "demo1.pdf", 10, 11, "paper", "flow-duration-afforestation", round="s10"),
    TestDoc("mineru-demo", MU + "demo3.pdf", 2, 3, "paper", "tableformer", round="s10"),
    TestDoc("gnuplot-doc", GP, 151, 152, "code_manual", "gnuplot-format-specifiers", round="s10"),
    TestDoc("gnuplot-doc", GP, 37, 38, "maths_manual", "gnuplot-functions", round="s10"),
    TestDoc("gnuplot-doc", GP, 41, 42, "code_manual", "gnuplot-operators", round="s10"),
    TestDoc("gnuplot-doc", GP, 34, 34, "code_manual", "gnuplot-enhanced-text", round="s10"),
    TestDoc("gnuplot-doc", GP, 232, 232, "maths_manual", "gnuplot-stats", round="s10"),
    TestDoc("gnuplot-doc", GP, 71, 71, "code_manual", "gnuplot-histograms", round="s10"),
    TestDoc("gnuplot-doc", GP, 97, 97, "code_manual", "gnuplot-environment", round="s10"),
]
DOCS += S10


def origin(doc: TestDoc) -> str:
    """Where a file can be read: its GitHub blob URL at the commit, or the Debian package and version."""
    source = COLLECTIONS[doc.collection]
    if "repo" in source:
        return f"https://github.com/{source['repo']}/blob/{source['commit']}/{doc.path}"
    return f"debian:{source['deb']}={source['version']}:{source['root']}{doc.path}"


def original_path(doc: TestDoc) -> Path:
    return CACHE / "originals" / doc.collection / doc.path


def _from_git(repo: str, commit: str, path: str) -> bytes | None:
    """The file from a local git snapshot of the repository, or None."""
    for candidate in (MIRRORS / repo.replace("/", "+") / "repo", MIRRORS / repo.replace("/", "+")):
        if (candidate / "HEAD").is_file() or (candidate / ".git").exists():
            done = subprocess.run(
                ["git", "-C", str(candidate), "show", f"{commit}:{path}"], capture_output=True
            )
            if done.returncode == 0 and done.stdout:
                return done.stdout
    return None


def _from_github(repo: str, commit: str, path: str) -> bytes | None:
    try:
        response = requests.get(f"https://raw.githubusercontent.com/{repo}/{commit}/{path}", timeout=30)
    except requests.RequestException:
        return None
    return response.content if response.ok and response.content.startswith(b"%PDF") else None


def _from_deb(package: str, version: str) -> Path | None:
    """The package unpacked under the cache (downloaded with apt-get), or None."""
    unpacked = CACHE / "debs" / f"{package}_{version}"
    if unpacked.is_dir():
        return unpacked
    with tempfile.TemporaryDirectory(prefix="curate-deb-") as tmp:
        done = subprocess.run(["apt-get", "download", f"{package}={version}"], cwd=tmp, capture_output=True)
        debs = list(Path(tmp).glob("*.deb"))
        if done.returncode != 0 or not debs:
            return None
        subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(unpacked)], check=True)
    return unpacked


def fetch(docs: list[TestDoc] | None = None) -> dict[str, str]:
    """Every test document's (or those of `docs`) original into the cache; {name: why it is missing} for
    those that could not be had."""
    missing = {}
    for doc in DOCS if docs is None else docs:
        target = original_path(doc)
        if target.is_file():
            continue
        source = COLLECTIONS[doc.collection]
        if "repo" in source:
            data = _from_git(source["repo"], source["commit"], doc.path) or _from_github(
                source["repo"], source["commit"], doc.path
            )
            if data is None:
                missing[doc.name] = f"{origin(doc)}: no git snapshot in {MIRRORS} and GitHub not reachable"
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        else:
            unpacked = _from_deb(source["deb"], source["version"])
            found = unpacked / source["root"] / doc.path if unpacked else None
            if not found or not found.is_file():
                missing[doc.name] = (
                    f"{origin(doc)}: apt-get download failed or the file is not in the package"
                )
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(found.read_bytes())
    return missing


def write_excerpts(out: Path, docs: list[TestDoc] | None = None) -> dict[str, str]:
    """Each test document (or those of `docs`; its page range of the original) as a PDF under `out`;
    {name: why missing}."""
    import pymupdf

    missing = {}
    for doc in DOCS if docs is None else docs:
        source = original_path(doc)
        if not source.is_file():
            missing[doc.name] = f"{source} not in the cache (run `fetch`)"
            continue
        target = out / doc.name
        target.parent.mkdir(parents=True, exist_ok=True)
        with pymupdf.open(source) as original, pymupdf.open() as excerpt:
            last = min(doc.last, original.page_count)
            excerpt.insert_pdf(original, from_page=doc.first - 1, to_page=last - 1)
            excerpt.save(target, garbage=3, deflate=True)
    return missing


def manifest_rows(folder: Path, docs: list[TestDoc] | None = None) -> list[dict]:
    """One row per test page: where it comes from and its text as the recipe's reader writes it."""
    from curate.pdf.reader import PdfPageReader

    by_name = {doc.name: doc for doc in DOCS}
    # at the recipe's dpi: the text the page does not show, left out, is found on its render
    reader = PdfPageReader(str(folder), glob_pattern="**/*.pdf")
    rows = []
    for page in reader.run():
        name, number = page.id.rsplit("#page=", 1)
        doc = by_name[name]
        source = COLLECTIONS[doc.collection]
        rows.append({
            "page_id": page.id, "collection": doc.collection, "set": "test", "kind": doc.kind,
            "origin": origin(doc), "repo": source.get("repo") or source["deb"],
            "commit": source.get("commit") or source["version"], "path": doc.path,
            "licence": source["licence"], "page": doc.first + int(number) - 1,
            "text_source": page.metadata.get("text_source"), "text": page.text,
            **({"round": doc.round} if doc.round else {}),
        })  # fmt: skip
    import pymupdf

    made = {row["page_id"] for row in rows}
    # a page the reader could not make (time limit, error) is still a test page, with no text
    for doc in DOCS if docs is None else docs:
        if (folder / doc.name).is_file():
            with pymupdf.open(folder / doc.name) as pdf:
                count = pdf.page_count
            for number in range(1, count + 1):
                if f"{doc.name}#page={number}" not in made:
                    source = COLLECTIONS[doc.collection]
                    rows.append({
                        "page_id": f"{doc.name}#page={number}", "collection": doc.collection, "set": "test",
                        "kind": doc.kind, "origin": origin(doc), "repo": source.get("repo") or source["deb"],
                        "commit": source.get("commit") or source["version"], "path": doc.path,
                        "licence": source["licence"], "page": doc.first + number - 1, "text_source": "error",
                        "text": "", **({"round": doc.round} if doc.round else {}),
                    })  # fmt: skip
    return sorted(rows, key=lambda r: r["page_id"])


def main(argv: list[str]) -> None:
    command = argv[0] if argv else "fetch"
    if command == "fetch":
        for name, why in fetch().items():
            print(f"skipped {name}: {why}", file=sys.stderr)
        print(
            f"{sum(original_path(d).is_file() for d in DOCS)} of {len(DOCS)} test PDFs in {CACHE / 'originals'}"
        )
    elif command == "excerpts":
        fetch()
        for name, why in write_excerpts(Path(argv[1])).items():
            print(f"skipped {name}: {why}", file=sys.stderr)
    elif command == "manifest":  # manifest [ROUND]: the rows of one round's documents only (to append)
        docs = [doc for doc in DOCS if doc.round == argv[1]] if argv[1:] else None
        with tempfile.TemporaryDirectory(prefix="curate-test-excerpts-") as tmp:
            fetch(docs)
            write_excerpts(Path(tmp), docs)
            for row in manifest_rows(Path(tmp), docs):
                print(json.dumps(row, ensure_ascii=False))
    else:
        raise SystemExit(f"unknown command {command!r}: use fetch, excerpts DIR or manifest [ROUND]")


if __name__ == "__main__":
    main(sys.argv[1:])
