// The shopping assistant's chat, loaded only on the assistant page.
// Each message (and an optional photo, as a data URL) is POSTed as JSON
// {message, image} to the shop's /bot, which answers {message} or {error}.
// Product ids the assistant writes as [ID] become cards from /product-meta.
// Everything is put on the page as text nodes, never as markup.
(function () {
  "use strict";
  var form = document.querySelector("form[data-assistant]");
  var log = document.querySelector("[data-chat-log]");
  var status = document.querySelector("[data-chat-status]");
  if (!form || !log || !window.fetch) {
    return;
  }
  var DESCRIPTION_CHARS = 350;

  function say(text, className) {
    var item = document.createElement("li");
    item.className = className;
    item.textContent = text;
    log.appendChild(item);
    item.scrollIntoView({ block: "nearest" });
    return item;
  }

  function readImage(input) {
    return new Promise(function (resolve, reject) {
      var file = input && input.files && input.files[0];
      if (!file) {
        resolve("");
        return;
      }
      var reader = new FileReader();
      reader.onload = function () { resolve(String(reader.result)); };
      reader.onerror = function () { reject(new Error("The photo could not be read.")); };
      reader.readAsDataURL(file);
    });
  }

  function productIds(text) {
    var ids = [];
    var pattern = /\[([A-Z0-9]{6,32})\]/g;
    var match;
    while ((match = pattern.exec(text)) !== null) {
      if (ids.indexOf(match[1]) < 0) {
        ids.push(match[1]);
      }
    }
    return ids;
  }

  function showProduct(item, id) {
    fetch(form.dataset.metaUrl + encodeURIComponent(id), { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (product) {
        if (!product || !product.id) {
          return;
        }
        var card = document.createElement("a");
        card.className = "chat-product";
        card.href = form.dataset.productUrl + encodeURIComponent(product.id);
        if (product.picture) {
          var picture = document.createElement("img");
          picture.src = product.picture;
          picture.alt = "";
          card.appendChild(picture);
        }
        var text = document.createElement("span");
        var name = document.createElement("strong");
        name.textContent = product.name || product.id;
        text.appendChild(name);
        var description = product.description || "";
        if (description.length > DESCRIPTION_CHARS) {
          description = description.slice(0, DESCRIPTION_CHARS) + "…";
        }
        text.appendChild(document.createElement("br"));
        text.appendChild(document.createTextNode(description));
        card.appendChild(text);
        item.appendChild(card);
      })
      .catch(function () { /* A card is a nicety; the answer stands without it. */ });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var message = form.elements.message.value.trim();
    if (!message) {
      return;
    }
    var button = form.querySelector("button[type=submit]");
    button.disabled = true;
    status.textContent = "The assistant is thinking…";
    say(message, "from-shopper");
    readImage(form.elements.image)
      .then(function (image) {
        return fetch(form.dataset.botUrl, {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ message: message, image: image })
        });
      })
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (body) {
          if (!response.ok || typeof body.message !== "string") {
            throw new Error(body.error || "The assistant did not answer.");
          }
          return body.message;
        });
      })
      .then(function (answer) {
        var item = say(answer, "from-assistant");
        productIds(answer).forEach(function (id) { showProduct(item, id); });
        form.reset();
      })
      .catch(function (error) {
        say(error.message || "The assistant did not answer.", "chat-error");
      })
      .then(function () {
        button.disabled = false;
        status.textContent = "";
      });
  });
})();
