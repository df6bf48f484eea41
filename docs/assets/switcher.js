// The language switcher links to the same page in the other language, whose headings have the
// same ids: the link also carries the section the reader is in. That is the last heading (below
// the page title) whose top has reached the reading line under the header, or the heading the
// address names (#id) while it is on screen further down (a last section cannot reach the line).
// Set when the link is about to be used (pointer down, focus, click): a new tab gets it too.
(function () {
  var SELECTOR = "article h2[id], article h3[id], article h4[id], article h5[id], article h6[id]";

  function currentSection() {
    var header = document.querySelector(".md-header");
    var rem = parseFloat(getComputedStyle(document.documentElement).fontSize);
    var line = (header ? header.getBoundingClientRect().bottom : 0) + 3 * rem;
    var headings = document.querySelectorAll(SELECTOR);
    var section = null;
    for (var i = 0; i < headings.length && headings[i].getBoundingClientRect().top <= line; i++) {
      section = headings[i];
    }
    var named = location.hash && document.getElementById(decodeURIComponent(location.hash.slice(1)));
    if (named && named.matches(SELECTOR)) {
      var top = named.getBoundingClientRect().top;
      var before = !section || (section.compareDocumentPosition(named) & Node.DOCUMENT_POSITION_FOLLOWING);
      if (top >= 0 && top < window.innerHeight && before) section = named;
    }
    return section ? section.id : "";
  }

  function carrySection(event) {
    var link = event.target.closest && event.target.closest(".md-select__link[hreflang]");
    if (!link) return;
    var id = currentSection();
    var href = link.getAttribute("href").split("#")[0];
    link.setAttribute("href", id ? href + "#" + encodeURIComponent(id) : href);
  }

  ["pointerdown", "focusin", "click"].forEach(function (type) {
    document.addEventListener(type, carrySection, true);
  });
})();
