/*
 * Live refresh for the nuri portal, in plain JavaScript (no framework, nothing to vendor).
 *
 * - An element with data-refresh-url is replaced, every data-refresh-seconds, by the HTML that
 *   URL returns, until the returned element no longer carries data-refresh-url (the job ended,
 *   no job on the list is active). Keyboard focus inside it stays on the element with the same id.
 * - A <pre> with data-log-url grows by what GET <url>?offset=N returns ({text, next_offset,
 *   final}) until final is true.
 * - A replaced element's data-announce text, when it changed, goes to the page's polite live
 *   region (#live-announcer), so that a screen reader hears "Job 12: Completed".
 * - Nothing polls while the tab is hidden; a failed request backs off up to a minute; a 4xx
 *   (signed out, not found) stops refreshing and says so.
 * - On a form page with an error summary, focus moves to it so that screen readers read it.
 *
 * Every page works without this script; it only saves pressing reload.
 */
(function () {
  "use strict";

  var FRAGMENT_HEADER = { "X-Nuri-Fragment": "1" };
  var MAX_DELAY_S = 60;

  function whenVisible(callback) {
    if (!document.hidden) {
      callback();
      return;
    }
    document.addEventListener("visibilitychange", function onVisible() {
      if (!document.hidden) {
        document.removeEventListener("visibilitychange", onVisible);
        callback();
      }
    });
  }

  function seconds(element) {
    var value = Number(element.getAttribute("data-refresh-seconds"));
    return value > 0 ? value : 5;
  }

  function stopped(element) {
    var note = document.createElement("p");
    note.className = "notice";
    note.setAttribute("role", "status");
    // The text comes from the page, in its language, like every other string.
    note.textContent = document.body.getAttribute("data-refresh-stopped");
    var anchor = element.tagName === "TBODY" ? element.closest("table") : element;
    anchor.parentNode.insertBefore(note, anchor);
  }

  // The refreshed element is new, so a live region inside it would not be announced; a lasting
  // one outside it says what changed (e.g. "Job 12: Completed").
  function announce(before, after) {
    var text = after.getAttribute("data-announce");
    var live = document.getElementById("live-announcer");
    if (live && text && text !== before.getAttribute("data-announce")) live.textContent = text;
  }

  function scheduleFragment(element, delayS) {
    setTimeout(function () {
      whenVisible(function () { refreshFragment(element, delayS); });
    }, delayS * 1000);
  }

  function refreshFragment(element, delayS) {
    if (!element.isConnected) return;
    fetch(element.getAttribute("data-refresh-url"), {
      credentials: "same-origin",
      headers: FRAGMENT_HEADER,
    }).then(function (response) {
      if (response.status >= 400 && response.status < 500) {
        stopped(element);
        return;
      }
      if (!response.ok) throw new Error(String(response.status));
      return response.text().then(function (html) {
        var template = document.createElement("template");
        template.innerHTML = html.trim();
        var replacement = template.content.firstElementChild;
        if (!replacement) return;
        var focused = document.activeElement;
        var focusedId = focused && element.contains(focused) ? focused.id : null;
        element.replaceWith(replacement);
        announce(element, replacement);
        if (focusedId) {
          var again = document.getElementById(focusedId);
          if (again) again.focus();
        }
        if (replacement.hasAttribute("data-refresh-url")) {
          scheduleFragment(replacement, seconds(replacement));
        }
      });
    }).catch(function () {
      scheduleFragment(element, Math.min(delayS * 2, MAX_DELAY_S));
    });
  }

  function scheduleLog(pre, delayS) {
    setTimeout(function () {
      whenVisible(function () { refreshLog(pre, delayS); });
    }, delayS * 1000);
  }

  function refreshLog(pre, delayS) {
    if (!pre.isConnected) return;
    var url = pre.getAttribute("data-log-url") + "?offset=" + pre.getAttribute("data-log-offset");
    fetch(url, { credentials: "same-origin", headers: FRAGMENT_HEADER })
      .then(function (response) {
        if (response.status >= 400 && response.status < 500) {
          stopped(pre);
          return;
        }
        if (!response.ok) throw new Error(String(response.status));
        return response.json().then(function (chunk) {
          if (chunk.text) {
            var atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
            pre.appendChild(document.createTextNode(chunk.text));
            if (atBottom) pre.scrollTop = pre.scrollHeight;
          }
          pre.setAttribute("data-log-offset", String(chunk.next_offset));
          if (chunk.final) {
            pre.removeAttribute("data-log-url");
          } else {
            scheduleLog(pre, seconds(pre));
          }
        });
      })
      .catch(function () {
        scheduleLog(pre, Math.min(delayS * 2, MAX_DELAY_S));
      });
  }

  function start() {
    document.querySelectorAll("[data-refresh-url]").forEach(function (element) {
      scheduleFragment(element, seconds(element));
    });
    document.querySelectorAll("pre[data-log-url]").forEach(function (pre) {
      pre.scrollTop = pre.scrollHeight;
      scheduleLog(pre, seconds(pre));
    });
    var summary = document.getElementById("error-summary") || document.getElementById("refusal");
    if (summary) summary.focus();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
