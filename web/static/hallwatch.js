/* hallwatch: live sections and confirmations. Plain JavaScript, no library, nothing remote. */
(function () {
  "use strict";

  // Forms with data-confirm ask first (resetting a password, disabling a user).
  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  // A [data-select-all="NAME"] checkbox ticks every checkbox named NAME on the page.
  document.addEventListener("change", function (event) {
    var name = event.target.getAttribute && event.target.getAttribute("data-select-all");
    if (!name) { return; }
    document.querySelectorAll('input[type=checkbox][name="' + name + '"]').forEach(function (box) {
      box.checked = event.target.checked;
    });
  });

  // The wall display (data-rotate="SECONDS"): one panel at a time, in turn.
  var panels = document.querySelector("[data-rotate]");
  if (panels) {
    var shown = 0;
    var named = document.querySelector("[data-panel-name]");
    window.setInterval(function () {
      var all = panels.querySelectorAll(".wall-panel");
      all[shown].classList.remove("active");
      shown = (shown + 1) % all.length;
      all[shown].classList.add("active");
      if (named) { named.textContent = all[shown].querySelector("h2").textContent; }
    }, Math.max(parseInt(panels.getAttribute("data-rotate"), 10), 2) * 1000);
  }

  // An element with data-poll="URL" refreshes every [data-live] section from that JSON URL.
  var live = document.querySelector("[data-poll]");
  if (!live) {
    return;
  }
  var url = live.getAttribute("data-poll");
  var every = Math.max(parseInt(live.getAttribute("data-every") || "5", 10), 1) * 1000;
  var status = document.getElementById("live-status");

  function show(text, offline) {
    if (status) { status.textContent = text; }
    live.classList.toggle("offline", offline);
  }

  function apply(data) {
    Object.keys(data.html || {}).forEach(function (name) {
      var section = document.querySelector('[data-live="' + name + '"]');
      if (section) { section.innerHTML = data.html[name]; }
    });
    show("实时更新 · " + data.at_text, false);  // the hall's time, as the box reckons it
  }

  function tick() {
    fetch(url, {
      credentials: "same-origin", cache: "no-store",
      // The poll header tells the box this is not user activity (the idle timeout still runs).
      headers: {"Accept": "application/json", "X-Hallwatch-Poll": "1"}
    }).then(function (response) {
      if (response.status === 401) {
        window.location.href = "/login?next=" + encodeURIComponent(window.location.pathname);
        return null;
      }
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.json();
    }).then(function (data) {
      if (data) { apply(data); }
    }).catch(function () {
      show("与本机的连接中断，正在重试…", true);
    }).then(function () {
      window.setTimeout(tick, every);
    });
  }

  window.setTimeout(tick, every);
}());
