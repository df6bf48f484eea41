"""Code included by the pages of the site, one module per topic."""
