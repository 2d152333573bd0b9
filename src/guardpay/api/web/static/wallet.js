// Scanning a merchant's code with the phone's camera, where the browser can decode QR
// codes itself (BarcodeDetector): the payload is written into the form, which works the
// same without this script (paste the code instead).
(function () {
  "use strict";
  var button = document.getElementById("scan");
  var field = document.getElementById("payload");
  var video = document.getElementById("camera");
  if (!button || !field || !video || !("BarcodeDetector" in window) || !navigator.mediaDevices) {
    return;
  }
  button.hidden = false;
  button.addEventListener("click", function () {
    var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } }).then(function (stream) {
      video.srcObject = stream;
      video.hidden = false;
      video.play();
      var look = function () {
        detector.detect(video).then(function (codes) {
          if (codes.length) {
            field.value = codes[0].rawValue;
            stream.getTracks().forEach(function (t) { t.stop(); });
            video.hidden = true;
            field.focus();
          } else {
            window.requestAnimationFrame(look);
          }
        });
      };
      look();
    });
  });
})();

// The shop's payments received, refreshed in place every few seconds (the page shows the
// same list without this script; reload it to see new payments).
(function () {
  "use strict";
  var box = document.getElementById("received");
  if (!box || !window.fetch) {
    return;
  }
  var source = box.getAttribute("data-refresh");
  window.setInterval(function () {
    if (box.contains(document.activeElement)) {
      return; // someone is typing a refund: do not pull the form from under them
    }
    window.fetch(source, { credentials: "same-origin" }).then(function (answer) {
      // signed out meanwhile: the answer is the login page; leave the list as it is
      return answer.ok && !answer.redirected ? answer.text() : null;
    }).then(function (html) {
      if (html !== null) {
        box.innerHTML = html;
      }
    });
  }, 4000);
})();

// My payment code, kept fresh: every few seconds the page asks what the code it shows has
// become (the same, a fresh one in its last seconds, or the payment a till made with it)
// and swaps that in. Without this script the "Refresh" button asks the same.
(function () {
  "use strict";
  var box = document.getElementById("paycode");
  if (!box || !window.fetch || !window.DOMParser) {
    return;
  }
  var ask = function () {
    var form = document.getElementById("code-now");
    if (!form) {
      return; // paid, or run out: nothing more to refresh
    }
    window.setTimeout(function () {
      window.fetch(form.action, { method: "POST", body: new FormData(form), credentials: "same-origin" })
        .then(function (answer) {
          return answer.ok && !answer.redirected ? answer.text() : null;
        })
        .then(function (html) {
          var now = html && new DOMParser().parseFromString(html, "text/html").getElementById("paycode");
          if (now) {
            box.innerHTML = now.innerHTML;
            ask();
          }
        });
    }, Number(form.getAttribute("data-every")) || 5000);
  };
  ask();
})();
