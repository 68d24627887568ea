// Placeholder: the web application replaces this file.
'use strict';
