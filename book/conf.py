"""Sphinx configuration of the book (``make book``; the pages are staged by book/build.py).

MyST-NB reads the executed notebooks and the Markdown pages; sphinx-book-theme gives the sidebar
and the previous / next links. Everything a page loads lies in its ``_static`` folder: MathJax
and the ipywidgets HTML manager are unpacked there by build.py, never fetched from a CDN.
"""
project = "AR-Seg, step by step"
author = "the arseg-tutorial authors"
copyright = "the arseg-tutorial authors; MIT licence"
language = "en"

extensions = ["myst_nb"]
root_doc = "index"
exclude_patterns = ["**/.ipynb_checkpoints"]
suppress_warnings = ["mystnb.unknown_mime_type"]

myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
myst_dmath_double_inline = True

nb_execution_mode = "off"  # build.py has executed every notebook already
nb_merge_streams = True
nb_ipywidgets_js = {"widgets/dist/embed.js": {}}

mathjax_path = "mathjax/es5/tex-chtml.js"
# Before MathJax and the widget embed script: MathJax 2's Hub.Queue, which the embed calls, on MathJax 3.
html_js_files = [("mathjax2_hub.js", {"priority": 100})]
html_css_files = ["wide_figures.css"]

html_theme = "sphinx_book_theme"
html_title = "AR-Seg, step by step"
html_static_path = ["_static"]
html_copy_source = False
html_show_sourcelink = False
html_last_updated_fmt = None
html_theme_options = {
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "use_download_button": False,
    "use_fullscreen_button": False,
    "navigation_with_keys": True,
    "show_toc_level": 2,
    # No right-hand page contents: its 272 px would shrink every figure of a 1366-px-wide window to
    # 0.8 of its size (the chapters' numbered headings and the left navigation remain).
    "secondary_sidebar_items": [],
}
