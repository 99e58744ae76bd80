// The web page's script: written in the page issue.
