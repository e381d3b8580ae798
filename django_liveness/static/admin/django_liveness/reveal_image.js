"use strict";
// A reference image is fetched only when staff click "Show image": every fetch is logged as a view of
// biometric data (admin.image_with_face). The click shows the image and its face rectangle in place.
document.addEventListener("click", (event) => {
  const link = event.target.closest(".liveness-image-reveal");
  const template = link && link.parentElement.querySelector("template");
  if (!template) return; // without the template the link opens the image itself
  event.preventDefault();
  link.replaceWith(template.content.cloneNode(true));
});
