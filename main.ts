console.log("qts");
