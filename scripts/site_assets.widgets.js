// Loaded on pages with ipywidgets, before require.js and the ipywidgets HTML manager
// (embed-amd.js); see nb_ipywidgets_js in _config.yml. scripts/site_assets.sh copies it to
// _static/widgets/lindiff-widgets-local.js, next to those two files and the manager's fonts.
(function () {
  var script = document.currentScript;
  var here = new URL(".", script.src).href; // .../_static/widgets/

  // 1. Nothing from a CDN. The manager bundles the standard widgets (base, controls, output) but
  //    would fetch any other widget module from cdn.jsdelivr.net; it reads that base URL from a
  //    data-jupyter-widgets-cdn attribute on any <script> tag. Point it here instead.
  script.setAttribute("data-jupyter-widgets-cdn", here + "npm/");

  // 2. The icon fonts. Each module in embed-amd.js locates its assets relative to its own AMD
  //    module URL (e.g. "@jupyter-widgets/html-manager/dist/libembed-amd" -> page-relative
  //    "@jupyter-widgets/html-manager/dist/"); map the module paths to this folder, which holds
  //    the fonts. A global `require` object defined before require.js loads is its configuration.
  var dir = here.replace(/\/$/, "");
  window.require = {
    paths: {
      "@jupyter-widgets/html-manager/dist": dir,
      "@jupyter-widgets/base": dir + "/base",
      "@jupyter-widgets/controls": dir + "/controls",
    },
  };

  // 3. Widget labels are typeset with the MathJax 2 call MathJax.Hub.Queue(["Typeset", Hub, el]);
  //    the book serves MathJax 3. Translate the call once MathJax 3 has loaded (it is deferred,
  //    so it has run by DOMContentLoaded; pages without math have no MathJax and skip this).
  document.addEventListener("DOMContentLoaded", function () {
    var mj = window.MathJax;
    if (!mj || mj.Hub || !mj.startup) return;
    mj.Hub = {
      Queue: function () {
        Array.prototype.forEach.call(arguments, function (job) {
          if (Array.isArray(job) && job[0] === "Typeset") {
            mj.startup.promise = mj.startup.promise.then(function () {
              return mj.typesetPromise(job[2] ? [job[2]] : undefined);
            });
          }
        });
      },
    };
  });
})();
