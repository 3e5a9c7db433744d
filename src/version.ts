/** The mse-home version; also the tag of the base image `mse-home-base:<VERSION>`. */
export const VERSION = '0.1.0';
