// The stride explorer of the shapes chapter (docs/shapes.<lang>.md, section #explorer).
//
// The model follows PyTorch's own algorithms, not a simplification of them: `view` and `reshape`
// use ATen's infer_size and computeStride (aten/src/ATen/InferSize.h, TensorUtils.cpp), `expand`
// its inferExpandGeometry, `is_contiguous` its compute_contiguous; every error is the message of
// the pinned torch release (2.13.0), word for word. tests/test_explorer.py compares the model with
// torch on hundreds of random chains.
//
// window.strideExplorer.run(shape, steps) -> records
//
//   shape  the start: torch.arange(n).view(shape), n the product of shape (a list of ints >= 0)
//   steps  one list per step: the method name, then its arguments as PyTorch takes them:
//            ["view", [2, 12]] or ["view", 2, 12]      ["reshape", [-1, 4]]
//            ["transpose", 1, 2]                       ["permute", [2, 0, 1]]
//            ["contiguous"]                            ["expand", [3, -1, 4]]
//            ["unsqueeze", 0]                          ["squeeze"] or ["squeeze", -1]
//   records  one per step, in order:
//            {shape, stride, offset, contiguous, copied, storage}
//              shape, stride   lists of ints, as tensor.shape and tensor.stride()
//              offset          tensor.storage_offset()
//              contiguous      tensor.is_contiguous()
//              copied          whether this step made new storage (untyped_storage().data_ptr()
//                              differs from the step before's); false for a view
//              storage         the values of the whole storage the result reads from, in memory
//                              order: a view (expanded ones too) reads its input's storage, so it
//                              lists the same values; a copy lists the values of its new storage
//          or, for a step PyTorch rejects, {error, type}: PyTorch's message and exception type
//          ("RuntimeError", "IndexError"); the chain stops there (no record after it).
//   An argument of the wrong kind (not an int) throws a JavaScript TypeError: the interface
//   checks its input before it calls the model.
//
// The interface: every element with class "stride-explorer" becomes an explorer, in the language
// of its data-lang attribute or else of the page (<html lang>). Its content before that is what a
// reader without JavaScript sees.
(function () {
  "use strict";

  // --- The model ---------------------------------------------------------------------------

  class TorchError extends Error {
    constructor(type, message) {
      super(message);
      this.type = type;
    }
  }

  const runtimeError = (message) => new TorchError("RuntimeError", message);
  const list = (values) => "[" + values.join(", ") + "]";
  const product = (values) => values.reduce((a, b) => a * b, 1);

  // c10::maybe_wrap_dim: a 0-dim tensor accepts the dims -1 and 0.
  function wrapDim(dim, ndim) {
    const rank = Math.max(ndim, 1);
    if (dim < -rank || dim >= rank) {
      throw new TorchError("IndexError", "Dimension out of range (expected to be in range of [" +
        -rank + ", " + (rank - 1) + "], but got " + dim + ")");
    }
    return dim < 0 ? dim + rank : dim;
  }

  // Row-major strides, as torch.empty(shape) has them (a size-0 dim counts as 1).
  function contiguousStrides(shape) {
    const stride = new Array(shape.length);
    let next = 1;
    for (let d = shape.length - 1; d >= 0; d--) {
      stride[d] = next;
      next *= Math.max(shape[d], 1);
    }
    return stride;
  }

  // TensorImpl::compute_contiguous: dims of size 1 never take a step, so their stride is ignored.
  function isContiguous(t) {
    if (product(t.shape) === 0) return true;
    let expected = 1;
    for (let d = t.shape.length - 1; d >= 0; d--) {
      if (t.shape[d] === 1) continue;
      if (t.stride[d] !== expected) return false;
      expected *= t.shape[d];
    }
    return true;
  }

  // at::infer_size: one -1 may stand for the size that makes the element counts equal.
  function inferSize(shape, numel) {
    let known = 1;
    let inferred = -1;
    shape.forEach((size, i) => {
      if (size === -1) {
        if (inferred >= 0) throw runtimeError("only one dimension can be inferred");
        inferred = i;
      } else if (size >= 0) {
        known *= size;
      } else {
        throw runtimeError("invalid shape dimension " + size + " at index " + i + " of shape " + list(shape));
      }
    });
    if (numel === known || (inferred >= 0 && known > 0 && numel % known === 0)) {
      const result = shape.slice();
      if (inferred >= 0) {
        if (known === 0) {
          throw runtimeError("cannot reshape tensor of 0 elements into shape " + list(shape) +
            " because the unspecified dimension size -1 can be any value and is ambiguous");
        }
        result[inferred] = numel / known;
      }
      return result;
    }
    throw runtimeError("shape '" + list(shape) + "' is invalid for input of size " + numel);
  }

  // at::detail::computeStride: the strides that read the same elements in the same logical order
  // with the new shape, or null. It walks both shapes from the last dim, one "chunk" of old dims
  // at a time (dims that are contiguous with each other), and splits or merges only inside one.
  function computeStride(oldShape, oldStride, newShape) {
    if (oldShape.length === 0) return newShape.map(() => 1);
    const numel = product(oldShape);
    if (numel === 0 && oldShape.join() === newShape.join()) return oldStride.slice();
    const newStride = new Array(newShape.length);
    if (numel === 0) {
      for (let d = newShape.length - 1; d >= 0; d--) {
        newStride[d] = d === newShape.length - 1 ? 1 : Math.max(newShape[d + 1], 1) * newStride[d + 1];
      }
      return newStride;
    }
    let viewD = newShape.length - 1;
    let chunkBaseStride = oldStride[oldStride.length - 1];
    let tensorNumel = 1;
    let viewNumel = 1;
    for (let tensorD = oldShape.length - 1; tensorD >= 0; tensorD--) {
      tensorNumel *= oldShape[tensorD];
      const chunkEnds = tensorD === 0 ||
        (oldShape[tensorD - 1] !== 1 && oldStride[tensorD - 1] !== tensorNumel * chunkBaseStride);
      if (!chunkEnds) continue;
      while (viewD >= 0 && (viewNumel < tensorNumel || newShape[viewD] === 1)) {
        newStride[viewD] = viewNumel * chunkBaseStride;
        viewNumel *= newShape[viewD];
        viewD--;
      }
      if (viewNumel !== tensorNumel) return null;
      if (tensorD > 0) {
        chunkBaseStride = oldStride[tensorD - 1];
        tensorNumel = 1;
        viewNumel = 1;
      }
    }
    return viewD === -1 ? newStride : null;
  }

  // A tensor: shape, stride, offset, and its storage ({values}: one object per allocation).
  const alias = (t, shape, stride) => ({shape, stride, offset: t.offset, storage: t.storage});

  // The elements in logical order (the last dim fastest), as the storage positions they read.
  function positions(t) {
    const out = [];
    const walk = (d, pos) => {
      if (d === t.shape.length) { out.push(pos); return; }
      for (let i = 0; i < t.shape[d]; i++) walk(d + 1, pos + i * t.stride[d]);
    };
    walk(0, t.offset);
    return out;
  }

  // clone(memory_format=torch.contiguous_format): new storage, the elements in logical order.
  function cloneContiguous(t) {
    const values = positions(t).map((p) => t.storage.values[p]);
    return {shape: t.shape.slice(), stride: contiguousStrides(t.shape), offset: 0, storage: {values}};
  }

  // torch.Size and the methods that take one accept view(2, 3) and view([2, 3]) alike.
  const sizes = (args) => (args.length === 1 && Array.isArray(args[0]) ? args[0] : args).slice();

  function view(t, args) {
    const shape = inferSize(sizes(args), product(t.shape));
    const stride = computeStride(t.shape, t.stride, shape);
    if (!stride) {
      throw runtimeError("view size is not compatible with input tensor's size and stride (at least " +
        "one dimension spans across two contiguous subspaces). Use .reshape(...) instead.");
    }
    return alias(t, shape, stride);
  }

  // A view when computeStride allows one, otherwise a contiguous copy viewed with the new shape.
  function reshape(t, args) {
    const shape = inferSize(sizes(args), product(t.shape));
    const stride = computeStride(t.shape, t.stride, shape);
    if (stride) return alias(t, shape, stride);
    const copy = cloneContiguous(t);
    return alias(copy, shape, computeStride(copy.shape, copy.stride, shape));
  }

  function transpose(t, args) {
    const a = wrapDim(args[0], t.shape.length);
    const b = wrapDim(args[1], t.shape.length);
    const shape = t.shape.slice();
    const stride = t.stride.slice();
    if (t.shape.length > 0) {
      [shape[a], shape[b]] = [shape[b], shape[a]];
      [stride[a], stride[b]] = [stride[b], stride[a]];
    }
    return alias(t, shape, stride);
  }

  function permute(t, args) {
    const dims = sizes(args);
    const ndim = t.shape.length;
    if (dims.length !== ndim) {
      throw runtimeError("permute(sparse_coo): number of dimensions in the tensor input does not match " +
        "the length of the desired ordering of dimensions i.e. input.dim() = " + ndim +
        " is not equal to len(dims) = " + dims.length);
    }
    const seen = new Set();
    const shape = [];
    const stride = [];
    for (const dim of dims) {
      const d = wrapDim(dim, ndim);
      if (seen.has(d)) throw runtimeError("permute(): duplicate dims are not allowed.");
      seen.add(d);
      shape.push(t.shape[d]);
      stride.push(t.stride[d]);
    }
    return alias(t, shape, stride);
  }

  const contiguous = (t) => (isContiguous(t) ? t : cloneContiguous(t));

  // at::inferExpandGeometry: new dims go in front; an expanded dim (size 1 -> n) gets stride 0.
  function expand(t, args) {
    const target = sizes(args);
    const ndim = t.shape.length;
    if (target.length < ndim) {
      throw runtimeError("expand(torch.LongTensor{" + list(t.shape) + "}, size=" + list(target) +
        "): the number of sizes provided (" + target.length + ") must be greater or equal to the " +
        "number of dimensions in the tensor (" + ndim + ")");
    }
    let shape = target.slice();
    let stride = target.map(() => 0);
    if (ndim > 0) {
      for (let i = target.length - 1; i >= 0; i--) {
        const dim = ndim - target.length + i;
        let size = dim >= 0 ? t.shape[dim] : 1;
        let step = dim >= 0 ? t.stride[dim] : shape[i + 1] * stride[i + 1];
        let want = target[i];
        if (want === -1) {
          if (dim < 0) {
            throw runtimeError("The expanded size of the tensor (-1) isn't allowed in a leading, " +
              "non-existing dimension " + i);
          }
          want = size;
        }
        if (size !== want) {
          if (size !== 1) {
            throw runtimeError("The expanded size of the tensor (" + want + ") must match the existing size (" +
              size + ") at non-singleton dimension " + i + ".  Target sizes: " + list(target) +
              ".  Tensor sizes: " + list(t.shape));
          }
          size = want;
          step = 0;
        }
        shape[i] = size;
        stride[i] = step;
      }
    }
    // A size below -1 passes the geometry; the new tensor's element count then fails to compute.
    if (shape.some((size) => size < 0)) throw runtimeError("numel: integer multiplication overflow");
    return alias(t, shape, stride);
  }

  function unsqueeze(t, args) {
    const d = wrapDim(args[0], t.shape.length + 1);
    // The new dim's stride: one step of it skips the whole dim it is put in front of.
    const step = d >= t.shape.length ? 1 : t.shape[d] * t.stride[d];
    const shape = t.shape.slice();
    const stride = t.stride.slice();
    shape.splice(d, 0, 1);
    stride.splice(d, 0, step);
    return alias(t, shape, stride);
  }

  function squeeze(t, args) {
    const ndim = t.shape.length;
    const drop = args.length === 0
      ? t.shape.map((size) => size === 1)
      : t.shape.map(() => false);
    if (args.length > 0) {
      const d = wrapDim(args[0], ndim);
      if (ndim > 0 && t.shape[d] === 1) drop[d] = true;
    }
    return alias(t, t.shape.filter((_, d) => !drop[d]), t.stride.filter((_, d) => !drop[d]));
  }

  const METHODS = {view, reshape, transpose, permute, contiguous, expand, unsqueeze, squeeze};
  const ARITY = {transpose: [2, 2], unsqueeze: [1, 1], squeeze: [0, 1], contiguous: [0, 0]};

  function checkStep(step) {
    const [name, ...args] = step;
    if (!Object.prototype.hasOwnProperty.call(METHODS, name)) throw new TypeError("unknown method " + name);
    const flat = args.length === 1 && Array.isArray(args[0]) ? args[0] : args;
    if (!flat.every(Number.isInteger)) throw new TypeError(name + "(): arguments must be ints");
    const [least, most] = ARITY[name] || [0, Infinity];
    if (args.length < least || args.length > most || (ARITY[name] && args.some(Array.isArray))) {
      throw new TypeError(name + "(): wrong number of arguments");
    }
  }

  function start(shape) {
    if (!Array.isArray(shape) || !shape.every((s) => Number.isInteger(s) && s >= 0)) {
      throw new TypeError("shape must be a list of ints >= 0");
    }
    const n = product(shape);
    const values = Array.from({length: n}, (_, i) => i);
    return {shape: shape.slice(), stride: contiguousStrides(shape), offset: 0, storage: {values}};
  }

  // One step on tensor t: {tensor} or {error, type}.
  function apply(t, step) {
    checkStep(step);
    try {
      return {tensor: METHODS[step[0]](t, step.slice(1))};
    } catch (error) {
      if (error instanceof TorchError) return {error: error.message, type: error.type};
      throw error;
    }
  }

  function record(t, before) {
    return {shape: t.shape.slice(), stride: t.stride.slice(), offset: t.offset, contiguous: isContiguous(t),
            copied: t.storage !== before.storage, storage: t.storage.values.slice()};
  }

  function run(shape, steps) {
    let t = start(shape);
    const records = [];
    for (const step of steps) {
      const result = apply(t, step);
      if (result.error !== undefined) {
        records.push({error: result.error, type: result.type});
        break;
      }
      records.push(record(result.tensor, t));
      t = result.tensor;
    }
    return records;
  }

  // --- The interface -----------------------------------------------------------------------

  const MAX_ELEMENTS = 120;
  // expand can multiply the elements without a copy; the drawing still has to fit.
  const MAX_DRAWN = 4 * MAX_ELEMENTS;
  const MAX_DIMS = 5;
  const MAX_STEPS = 12;
  const OPS = ["view", "reshape", "transpose", "permute", "contiguous", "expand", "unsqueeze", "squeeze"];
  // What each operation's argument field expects (its placeholder, and the example filled in).
  const EXAMPLE = {view: "2, 12", reshape: "-1, 4", transpose: "1, 2", permute: "2, 0, 1", contiguous: "",
                   expand: "3, -1, -1, -1", unsqueeze: "0", squeeze: ""};

  const TEXT = {
    zh: {
      label: "步长演示器",
      shape: "起点的形状",
      shapeHint: "1 到 5 个正整数，用逗号隔开；起点是 torch.arange(n).view(形状)。",
      begin: "从这个形状开始",
      op: "操作",
      args: "参数",
      argsHint: "整数，用逗号隔开",
      add: "加上这一步",
      presets: "一键加上",
      heads: "头数 H",
      qkv: "打包的 QKV",
      clear: "清空步骤",
      remove: "删除",
      removeStep: (n) => "删除第 " + n + " 步",
      steps: "步骤",
      noSteps: "还没有步骤：选一个操作，填好参数，按“加上这一步”或回车。",
      start: "起点",
      step: (n) => "第 " + n + " 步",
      shapeFact: "形状",
      strideFact: "步长",
      offsetFact: "存储偏移",
      contiguousFact: "连续吗",
      copiedFact: "这一步",
      yes: "是",
      no: "否",
      isView: "视图：共享存储，不复制",
      isCopy: "复制：新的存储",
      isStart: "新的存储（起点）",
      grid: "逻辑网格（按逻辑顺序）",
      memory: "存储（按内存顺序）：每格的值，以及读它的逻辑下标",
      unread: "没有逻辑下标读这一格",
      reads: (n) => n + " 个逻辑下标读这一格",
      empty: "没有元素",
      error: "PyTorch 拒绝这一步，链条在这里停下：",
      limit: "界面的限制，不是 PyTorch 的报错：",
      badShape: "形状要写 1 到 5 个正整数，用逗号隔开，例如 2, 3, 4。",
      tooMany: (n) => "这个形状有 " + n + " 个元素；为了画得下，最多 " + MAX_ELEMENTS + " 个。",
      badArgs: "参数要写成整数，用逗号隔开，例如 2, 12。",
      argCount: (op, n) => op + " 需要 " + n + " 个整数。",
      tooBig: (n) => "这一步的结果有 " + n + " 个元素；为了画得下，每一步的结果最多 " + MAX_DRAWN + " 个。",
      tooManySteps: "最多 " + MAX_STEPS + " 步。",
      stopped: "链条已经在报错处停下：先删掉报错的那一步。",
      needs3: (name) => name + " 需要一个三维张量 (B, L, E) 作为输入；当前结果的形状不是三维。",
      needs4: "merge_heads 需要一个四维张量 (B, H, L, D) 作为输入；当前结果的形状不是四维。",
      notDivisible: (e, by) => "最后一维 " + e + " 不能被 " + by + " 整除。",
      added: (what) => "加上了 " + what + "。",
    },
    en: {
      label: "Stride explorer",
      shape: "Starting shape",
      shapeHint: "1 to 5 positive integers, separated by commas; the start is torch.arange(n).view(shape).",
      begin: "Start from this shape",
      op: "Step",
      args: "Arguments",
      argsHint: "integers, separated by commas",
      add: "Add this step",
      presets: "One click",
      heads: "Heads H",
      qkv: "packed QKV",
      clear: "Clear the steps",
      remove: "Remove",
      removeStep: (n) => "Remove step " + n,
      steps: "Steps",
      noSteps: "No steps yet: choose a step, fill in its arguments, press “Add this step” or Enter.",
      start: "Start",
      step: (n) => "Step " + n,
      shapeFact: "shape",
      strideFact: "stride",
      offsetFact: "storage offset",
      contiguousFact: "contiguous",
      copiedFact: "this step",
      yes: "yes",
      no: "no",
      isView: "a view: shares the storage, copies nothing",
      isCopy: "a copy: new storage",
      isStart: "new storage (the start)",
      grid: "Logical grid (logical order)",
      memory: "Storage (memory order): each cell's value, and the logical index that reads it",
      unread: "no logical index reads this cell",
      reads: (n) => n + " logical indices read this cell",
      empty: "no elements",
      error: "PyTorch rejects this step; the chain stops here:",
      limit: "A limit of this interface, not a PyTorch error: ",
      badShape: "Write the shape as 1 to 5 positive integers separated by commas, e.g. 2, 3, 4.",
      tooMany: (n) => "This shape has " + n + " elements; to fit the drawing, at most " + MAX_ELEMENTS + ".",
      badArgs: "Write the arguments as integers separated by commas, e.g. 2, 12.",
      argCount: (op, n) => op + " takes " + n + " integer" + (n === 1 ? "" : "s") + ".",
      tooBig: (n) => "This step's result has " + n + " elements; to fit the drawing, at most " + MAX_DRAWN +
        " per step.",
      tooManySteps: "At most " + MAX_STEPS + " steps.",
      stopped: "The chain has stopped at an error: remove the failing step first.",
      needs3: (name) => name + " needs a 3-D (B, L, E) tensor as input; the current result is not 3-D.",
      needs4: "merge_heads needs a 4-D (B, H, L, D) tensor as input; the current result is not 4-D.",
      notDivisible: (e, by) => "The last dim " + e + " is not divisible by " + by + ".",
      added: (what) => "Added " + what + ".",
    },
  };

  // "2, 3, 4", "(2, 3, 4)" or "[2,3,4]" -> [2, 3, 4]; null unless every entry is an integer.
  function parseInts(text) {
    const inner = text.trim().replace(/^[([]|[)\]]$/g, "").trim();
    if (inner === "") return [];
    const parts = inner.split(/\s*,\s*|\s+/);
    if (!parts.every((p) => /^[-+]?\d{1,4}$/.test(p))) return null;
    return parts.map(Number);
  }

  const formatStep = (step) => "." + step[0] + "(" + step.slice(1).map((a) =>
    Array.isArray(a) ? a.join(", ") : a).join(", ") + ")";
  const tuple = (values) => "(" + values.join(", ") + (values.length === 1 ? ",)" : ")");

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (name === "text") node.textContent = value;
      else if (value !== false && value !== null && value !== undefined) node.setAttribute(name, value);
    }
    for (const child of children) if (child !== null && child !== undefined) node.append(child);
    return node;
  }

  const code = (text) => el("code", {text});

  // The logical grid: the last dim across, the one before it down, one block per index of the
  // dims before those. Each cell knows the storage position it reads (data-pos).
  function gridOf(t, texts) {
    const ndim = t.shape.length;
    const cols = ndim >= 1 ? t.shape[ndim - 1] : 1;
    const rows = ndim >= 2 ? t.shape[ndim - 2] : 1;
    const outer = t.shape.slice(0, Math.max(ndim - 2, 0));
    const box = el("div", {class: "se-grid", tabindex: "0", "aria-label": texts.grid});
    if (product(t.shape) === 0) return el("p", {class: "se-note", text: texts.empty});
    const blocks = [];
    const walk = (d, index, pos) => {
      if (d === outer.length) { blocks.push([index, pos]); return; }
      for (let i = 0; i < outer[d]; i++) walk(d + 1, index.concat(i), pos + i * t.stride[d]);
    };
    walk(0, [], t.offset);
    for (const [index, base] of blocks) {
      const block = el("div", {class: "se-block"});
      if (index.length) block.append(el("div", {class: "se-block-label"}, code("[" + index.join(", ") + "]")));
      const table = el("div", {class: "se-cells", style: "grid-template-columns: repeat(" + cols + ", 2.4em)"});
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < cols; c++) {
          const pos = base + (ndim >= 2 ? r * t.stride[ndim - 2] : 0) + (ndim >= 1 ? c * t.stride[ndim - 1] : 0);
          table.append(el("span", {class: "se-cell", "data-pos": pos, text: String(t.storage.values[pos])}));
        }
      }
      block.append(table);
      box.append(block);
    }
    return box;
  }

  // The memory row: every cell of the storage, its value and the logical index that reads it
  // (an expanded tensor reads a cell from several indices; a cell may also be read by none).
  function memoryOf(t, texts) {
    const readers = t.storage.values.map(() => []);
    const index = new Array(t.shape.length).fill(0);
    for (const pos of positions(t)) {
      readers[pos].push(index.join(","));
      for (let d = index.length - 1; d >= 0; d--) {
        if (++index[d] < t.shape[d]) break;
        index[d] = 0;
      }
    }
    const row = el("div", {class: "se-memory", role: "list"});
    t.storage.values.forEach((value, pos) => {
      const who = readers[pos];
      // The first index that reads the cell, and how many more do (an expanded dim).
      const first = who.length ? who[0] || "()" : "·";
      const label = who.length > 1 ? first + " +" + (who.length - 1) : first;
      const title = who.length === 0 ? texts.unread : who.length > 1 ? texts.reads(who.length) : null;
      row.append(el("span", {class: "se-mem" + (who.length ? "" : " se-unread"), role: "listitem",
                             "data-pos": pos, title},
        el("span", {class: "se-mem-value", text: String(value)}),
        el("span", {class: "se-mem-index", text: label})));
    });
    return el("div", {class: "se-scroll", tabindex: "0", "aria-label": texts.memory}, row);
  }

  function facts(t, copied, first, texts) {
    const list = el("dl", {class: "se-facts"});
    const add = (term, value) => list.append(el("div", {}, el("dt", {text: term}), el("dd", {}, value)));
    add(texts.shapeFact, code(tuple(t.shape)));
    add(texts.strideFact, code(tuple(t.stride)));
    add(texts.offsetFact, code(String(t.offset)));
    const answer = isContiguous(t) ? texts.yes : texts.no;
    add(texts.contiguousFact, el("span", {}, code("is_contiguous()"), " " + answer));
    add(texts.copiedFact, el("span", {class: copied ? "se-copy" : "se-view",
                                      text: first ? texts.isStart : copied ? texts.isCopy : texts.isView}));
    return list;
  }

  function card(title, call, body) {
    const heading = el("h4", {class: "se-card-title"}, title + " ", code(call));
    return el("section", {class: "se-card"}, heading, ...body);
  }

  function tensorCard(t, copied, title, call, texts, first) {
    return card(title, call, [facts(t, copied, first, texts),
      el("p", {class: "se-caption", text: texts.grid}), gridOf(t, texts),
      el("p", {class: "se-caption", text: texts.memory}), memoryOf(t, texts)]);
  }

  // Hovering or focusing a cell marks every cell of its card that reads the same memory.
  function linkCells(root) {
    const mark = (event, on) => {
      const cell = event.target.closest && event.target.closest("[data-pos]");
      const host = cell && cell.closest(".se-card");
      if (!host) return;
      for (const other of host.querySelectorAll('[data-pos="' + cell.dataset.pos + '"]')) {
        other.classList.toggle("se-linked", on);
      }
    };
    root.addEventListener("mouseover", (e) => mark(e, true));
    root.addEventListener("mouseout", (e) => mark(e, false));
  }

  let counter = 0;

  function build(root) {
    const lang = (root.dataset.lang || document.documentElement.lang || "zh").slice(0, 2) === "en" ? "en" : "zh";
    const texts = TEXT[lang];
    const id = "se" + ++counter;
    const state = {shape: [2, 3, 4], steps: []};

    const shapeInput = el("input", {id: id + "-shape", type: "text", inputmode: "numeric", value: "2, 3, 4",
                                    autocomplete: "off", spellcheck: "false", "aria-describedby": id + "-hint"});
    const opSelect = el("select", {id: id + "-op"}, ...OPS.map((op) => el("option", {value: op, text: op})));
    const argsInput = el("input", {id: id + "-args", type: "text", autocomplete: "off", spellcheck: "false",
                                   placeholder: EXAMPLE.view, value: EXAMPLE.view, title: texts.argsHint});
    const headsInput = el("input", {id: id + "-heads", type: "number", min: "1", max: "12", value: "2"});
    const message = el("p", {class: "se-message", role: "status", "aria-live": "polite"});
    const stepList = el("ol", {class: "se-steps"});
    const output = el("div", {class: "se-output"});

    const shapeForm = el("form", {class: "se-row"},
      el("label", {for: shapeInput.id, text: texts.shape}), shapeInput,
      el("button", {type: "submit", class: "md-button", text: texts.begin}));
    const stepForm = el("form", {class: "se-row"},
      el("label", {for: opSelect.id, text: texts.op}), opSelect,
      el("label", {for: argsInput.id, text: texts.args}), argsInput,
      el("button", {type: "submit", class: "md-button md-button--primary", text: texts.add}));
    const presetButton = (name, content) => el("button", {type: "button", class: "md-button se-preset",
                                                          "data-preset": name}, content);
    const presets = el("div", {class: "se-row"},
      el("span", {class: "se-label", text: texts.presets}),
      el("label", {for: headsInput.id, text: texts.heads}), headsInput,
      presetButton("split_heads", code("split_heads")),
      presetButton("merge_heads", code("merge_heads")),
      presetButton("packed_qkv", el("span", {}, texts.qkv + " ", code("permute(2, 0, 3, 1, 4)"))),
      el("button", {type: "button", class: "md-button se-clear", text: texts.clear}));

    const say = (text, limit) => {
      message.textContent = limit ? texts.limit + text : text;
      message.classList.toggle("se-warning", !!limit);
    };

    // Replays the chain from the start; the interface draws from the same model that run() uses.
    function render() {
      stepList.replaceChildren();
      output.replaceChildren();
      let t = start(state.shape);
      output.append(tensorCard(t, true, texts.start, "torch.arange(" + product(state.shape) + ").view(" +
        state.shape.join(", ") + ")", texts, true));
      if (!state.steps.length) stepList.append(el("li", {class: "se-none", text: texts.noSteps}));
      state.steps.forEach((step, i) => {
        const remove = el("button", {type: "button", class: "se-remove", "data-index": i,
                                     "aria-label": texts.removeStep(i + 1), text: texts.remove});
        stepList.append(el("li", {}, code(formatStep(step)), " ", remove));
      });
      for (let i = 0; i < state.steps.length; i++) {
        const result = apply(t, state.steps[i]);
        const title = texts.step(i + 1);
        if (result.error !== undefined) {
          output.append(card(title, formatStep(state.steps[i]), [el("div", {class: "se-error", role: "alert"},
            el("p", {text: texts.error}), el("p", {}, code(result.type + ": " + result.error)))]));
          return;
        }
        output.append(tensorCard(result.tensor, result.tensor.storage !== t.storage, title,
          formatStep(state.steps[i]), texts, false));
        t = result.tensor;
      }
    }

    // The tensor at the end of the chain, or null when the chain stopped at an error.
    function last() {
      let t = start(state.shape);
      for (const step of state.steps) {
        const result = apply(t, step);
        if (result.error !== undefined) return null;
        t = result.tensor;
      }
      return t;
    }

    function addSteps(steps) {
      let t = last();
      if (t === null) return say(texts.stopped, true);
      if (state.steps.length + steps.length > MAX_STEPS) return say(texts.tooManySteps, true);
      for (const step of steps) {
        const result = apply(t, step);
        if (result.error !== undefined) break;  // shown as PyTorch's error
        const n = product(result.tensor.shape);
        if (n > MAX_DRAWN) return say(texts.tooBig(n), true);
        t = result.tensor;
      }
      state.steps.push(...steps);
      render();
      say(texts.added(steps.map(formatStep).join("")));
    }

    shapeForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const shape = parseInts(shapeInput.value);
      if (!shape || shape.length < 1 || shape.length > MAX_DIMS || shape.some((s) => s < 1)) {
        return say(texts.badShape, true);
      }
      if (product(shape) > MAX_ELEMENTS) return say(texts.tooMany(product(shape)), true);
      state.shape = shape;
      state.steps = [];
      render();
      say("");
    });

    opSelect.addEventListener("change", () => {
      argsInput.placeholder = EXAMPLE[opSelect.value];
      argsInput.value = EXAMPLE[opSelect.value];
    });

    stepForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const op = opSelect.value;
      const args = parseInts(argsInput.value);
      if (!args) return say(texts.badArgs, true);
      const count = {transpose: 2, unsqueeze: 1, contiguous: 0}[op];
      if (count !== undefined && args.length !== count) return say(texts.argCount(op, count), true);
      if (op === "squeeze" && args.length > 1) return say(texts.argCount(op, 1), true);
      // The sizes of view/reshape/expand and the order of permute are one list, as in torch.Size.
      const listed = ["view", "reshape", "expand", "permute"].includes(op);
      addSteps([[op, ...(listed ? [args] : args)]]);
    });

    // The chapter's three recipes, on the current result's shape.
    function preset(name) {
      const t = last();
      if (t === null) return say(texts.stopped, true);
      const heads = Number(headsInput.value);
      if (!Number.isInteger(heads) || heads < 1) return say(texts.badArgs, true);
      const s = t.shape;
      if (name === "merge_heads") {
        if (s.length !== 4) return say(texts.needs4, true);
        return addSteps([["transpose", 1, 2], ["reshape", [s[0], s[2], s[1] * s[3]]]]);
      }
      if (s.length !== 3) return say(texts.needs3(name === "split_heads" ? "split_heads" : texts.qkv), true);
      const by = name === "split_heads" ? heads : 3 * heads;
      if (s[2] % by !== 0) return say(texts.notDivisible(s[2], by), true);
      if (name === "split_heads") {
        return addSteps([["view", [s[0], s[1], heads, s[2] / heads]], ["transpose", 1, 2]]);
      }
      return addSteps([["view", [s[0], s[1], 3, heads, s[2] / by]], ["permute", [2, 0, 3, 1, 4]]]);
    }

    presets.addEventListener("click", (event) => {
      const button = event.target.closest("button");
      if (!button) return;
      if (button.classList.contains("se-clear")) {
        state.steps = [];
        render();
        return say("");
      }
      preset(button.dataset.preset);
    });

    stepList.addEventListener("click", (event) => {
      const button = event.target.closest(".se-remove");
      if (!button) return;
      state.steps.splice(Number(button.dataset.index), 1);
      render();
      say("");
      // Keep the keyboard where it was: on the next remove button, or on the step field.
      const next = stepList.querySelectorAll(".se-remove")[Number(button.dataset.index)] ||
        stepList.querySelector(".se-remove:last-of-type");
      (next || argsInput).focus();
    });

    root.replaceChildren(
      el("p", {class: "se-hint", id: id + "-hint", text: texts.shapeHint}), shapeForm, stepForm, presets,
      message, el("p", {class: "se-caption", text: texts.steps}), stepList, output);
    root.setAttribute("role", "group");
    root.setAttribute("aria-label", texts.label);
    root.classList.add("se-ready");
    linkCells(root);
    render();
  }

  function init() {
    for (const root of document.querySelectorAll(".stride-explorer:not(.se-ready)")) build(root);
  }

  window.strideExplorer = {run, computeStride, isContiguous, TEXT, init};

  // Material's instant navigation (not enabled in mkdocs.yml) swaps pages without a load event:
  // where it is on, document$ announces every new page.
  if (window.document$ && typeof window.document$.subscribe === "function") {
    window.document$.subscribe(init);
  } else if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
