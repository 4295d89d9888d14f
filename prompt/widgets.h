/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The pieces every imza-prompt window is built of (defined in window.c): imza's style, labels that say
 * what they show to a screen reader, the site block. The insert-card and consent windows (card.c,
 * consent.c) use them, so that each window shows the site the same way. */
#pragma once

#include <gtk/gtk.h>

#include "prompt/window.h"

/* imza's CSS classes (imza-domain, imza-heading, imza-warning, imza-badge…), once per process. */
void load_css(void);
/* A wrapping label whose accessible name is name (taken and g_free'd; NULL: its text). */
GtkWidget *value_label(const char *text, char *name, const char *css_class);
/* A bold label for a section. */
GtkWidget *heading(const char *text);
/* b (built with a "_" mnemonic label), named label without its underscore. Returns b. */
GtkWidget *mnemonic_button(GtkWidget *b, const char *label);
/* "Requesting site": the registrable domain large, the whole origin below. */
GtkWidget *site_section(const struct prompt *p);
/* A modal window with imza's style, titled title: Escape runs escape, closing it on_close, both with
 * data. */
GtkWidget *modal_window(const char *title, GtkShortcutFunc escape, GCallback on_close, gpointer data);
/* A vertical box with the window's margins. */
GtkWidget *padded_box(void);
/* pinentry's SETDESC text, wrapped. */
GtkWidget *desc_label(const char *desc);
