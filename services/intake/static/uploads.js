// Photos are made smaller in the browser before the form is sent (long side at most 2048
// pixels, JPEG), and the limits are checked before anything leaves the phone: a citizen on a
// slow connection never waits for an upload that would be refused. Without JavaScript (or on an
// old browser) the server does the same scaling. Messages come from the page (data-* attributes),
// in the page's language.
(function () {
  "use strict";
  var LONG_SIDE = 2048;
  if (!window.DataTransfer || !window.createImageBitmap || !HTMLCanvasElement.prototype.toBlob) return;

  function smaller(file) {
    return createImageBitmap(file).then(function (bitmap) {
      var scale = Math.min(1, LONG_SIDE / Math.max(bitmap.width, bitmap.height));
      if (scale === 1 && file.size <= 1500000) { return file; }
      var canvas = document.createElement("canvas");
      canvas.width = Math.round(bitmap.width * scale);
      canvas.height = Math.round(bitmap.height * scale);
      canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      return new Promise(function (resolve) {
        canvas.toBlob(function (blob) {
          if (!blob || blob.size >= file.size) { resolve(file); return; }
          var name = file.name.replace(/\.[^.]*$/, "") + ".jpg";
          resolve(new File([blob], name, { type: "image/jpeg", lastModified: file.lastModified }));
        }, "image/jpeg", 0.85);
      });
    }).catch(function () { return file; });
  }

  function check(input, say) {
    var max = parseInt(input.getAttribute("data-max-files") || "5", 10);
    if (input.files.length > max) { say(input.getAttribute("data-too-many")); return false; }
    return true;
  }

  // The picker's own button and the names chosen, in the page's language (lapor.css).
  document.documentElement.classList.add("js");
  Array.prototype.forEach.call(document.querySelectorAll("input[type=file][data-none]"), function (input) {
    var chosen = document.getElementById(input.id + "-chosen");
    if (!chosen) { return; }
    input.addEventListener("change", function () {
      var names = Array.prototype.map.call(input.files, function (f) { return f.name; });
      chosen.textContent = names.length ? names.join(", ") : input.getAttribute("data-none");
    });
  });

  Array.prototype.forEach.call(document.querySelectorAll("input[type=file][data-max-bytes]"), function (input) {
    var form = input.form;
    var box = document.getElementById(input.id + "-check");
    var maxBytes = parseInt(input.getAttribute("data-max-bytes"), 10);
    function say(text) {
      if (!box) { return; }
      box.textContent = text || "";
      box.hidden = !text;
      if (text) { box.focus && box.focus(); }
    }
    input.addEventListener("change", function () { say(""); check(input, say); });
    form.addEventListener("submit", function (ev) {
      if (ev.submitter && ev.submitter.name === "step" && ev.submitter.value === "region") return;
      if (form.getAttribute("data-ready") === "1" || !input.files.length) return;
      ev.preventDefault();
      if (!check(input, say)) return;
      say(input.getAttribute("data-resizing"));
      var files = Array.prototype.slice.call(input.files);
      Promise.all(files.map(function (f) {
        return /^image\/(jpeg|png|webp)$/.test(f.type) ? smaller(f) : Promise.resolve(f);
      })).then(function (ready) {
        var tooBig = ready.filter(function (f) { return f.size > maxBytes; });
        if (tooBig.length) {
          say(input.getAttribute("data-too-large") + " " + tooBig.map(function (f) { return f.name; }).join(", "));
          return;
        }
        var list = new DataTransfer();
        ready.forEach(function (f) { list.items.add(f); });
        input.files = list.files;
        say("");
        form.setAttribute("data-ready", "1");
        if (form.requestSubmit) { form.requestSubmit(ev.submitter || undefined); } else { form.submit(); }
      });
    });
  });
})();
