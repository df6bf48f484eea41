// The query typed into the search box, rewritten inside Material's search worker before Material
// reads it (sitekit/build/search.py puts this file at the top of the worker). Readers type
// questions, not lunr queries: Chinese without spaces, -inf (to lunr: "without inf"), fp16 for
// float16, error messages pasted whole. The terms stay optional (OR), ranked by Material.
(() => {
  "use strict"

  /** Abbreviations readers type -> the word the pages use; both are searched. */
  const ABBREVIATIONS = {
    fp16: "float16", bf16: "bfloat16", fp32: "float32", fp64: "float64",
  }
  const SETUP = 0, QUERY = 2  // Material's SearchMessageType: SETUP, READY, QUERY, RESULT
  const HAN = /\p{sc=Han}+/gu
  /** lunr's syntax (+ - : ^ ~ * " \), punctuation, and a dot not followed by a digit (the
   *  index splits words there too): "-1e9" -> "1e9", ".reshape(...)" -> "reshape". */
  const NOT_A_WORD = /[^\p{L}\p{N}.]+|\.(?!\d)/gu

  /** The index's Chinese words, the length of the longest, and which terms are stop words. */
  function vocabularyOf(terms, isStopWord = () => false) {
    const words = new Set([...terms].filter(term => /^\p{sc=Han}+$/u.test(term)))
    let longest = 1
    for (const word of words) longest = Math.max(longest, word.length)
    return { words, longest, isStopWord }
  }

  /** A run of Chinese characters, cut into the longest words of the index, left to right;
   *  a character that starts no word stays on its own. The index's own words (jieba's, at build
   *  time), not a list of their own: nothing more to load, and no word the index lacks. */
  function segment(run, { words, longest }) {
    const cuts = []
    for (let i = 0; i < run.length;) {
      let j = Math.min(run.length, i + longest)
      while (j > i + 1 && !words.has(run.slice(i, j))) j--
      cuts.push(run.slice(i, j))
      i = j
    }
    return cuts
  }

  /** The query as words separated by spaces, with no lunr syntax left in it. Stop words ("is",
   *  "not", 的, 用) go unless the query has nothing else: in a pasted message or a question they
   *  only add every page that has them. */
  function transform(query, vocabulary) {
    const terms = query.normalize("NFKC")
      .replace(/['\u2019]/g, "")  // "tensor's" -> "tensors", not "tensor" and "s*"
      .replace(NOT_A_WORD, " ")
      .replace(HAN, run => ` ${segment(run, vocabulary).join(" ")} `)
      .split(" ").filter(Boolean)
      .flatMap(term => [term, ABBREVIATIONS[term.toLowerCase()] || []].flat())
    const words = terms.filter(term => !vocabulary.isStopWord(term.toLowerCase()))
    return (words.length ? words : terms).join(" ")
  }

  self.siteSearchQuery = { transform, vocabularyOf }
  if (typeof WorkerGlobalScope === "undefined") return  // loaded into a page (the tests)

  // Material's worker handles messages with the listener it adds: the listener gets the query
  // rewritten, and the setup message first lets this file read the words of the index it builds.
  let vocabulary = vocabularyOf([])
  const listen = self.addEventListener
  self.addEventListener = function (type, listener, options) {
    if (type !== "message") return listen.call(this, type, listener, options)
    return listen.call(this, type, function (event) {
      const message = event.data
      if (message.type === SETUP) {
        const build = lunr.Builder.prototype.build
        lunr.Builder.prototype.build = function () {
          const index = build.call(this)
          const filters = [lunr.stopWordFilter, lunr.zh?.stopWordFilter].filter(Boolean)
          const isStopWord = term => filters.some(filter => !filter(term))
          vocabulary = vocabularyOf(Object.keys(index.invertedIndex), isStopWord)
          return index
        }
      } else if (message.type === QUERY) {
        const data = { type: QUERY, data: transform(message.data, vocabulary) }
        event = new MessageEvent("message", { data })
      }
      return listener.call(this, event)
    }, options)
  }
})()
